"""llm_run against a local OpenAI-compatible server; app::http::request against a local server."""

from __future__ import annotations

import threading
import time

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

from devstack.ports import find_free_port

pytestmark = pytest.mark.stack


class LocalServer:
    def __init__(self, app: FastAPI) -> None:
        self.port = find_free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LocalServer":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def openai_compatible_app(seen: list[dict]) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> dict:
        body = await request.json()
        seen.append({"body": body, "authorization": request.headers.get("authorization")})
        user = body["messages"][-1]["content"]
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": body["model"],
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": f"echo: {user}"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
        }

    return app


def http_app(seen: list[dict]) -> FastAPI:
    app = FastAPI()

    @app.api_route("/items/{item}", methods=["GET", "POST"])
    async def item(item: str, request: Request) -> dict:
        body = await request.body()
        seen.append({"method": request.method, "header": request.headers.get("x-probe"), "body": body})
        return {"item": item, "method": request.method}

    return app


async def test_llm_run_uses_directive_and_counts_tokens(runner, monkeypatch):
    seen: list[dict] = []
    monkeypatch.setenv("CYTASKS_CREDENTIAL_LLM_API_KEY", "sk-local-test")
    with LocalServer(openai_compatible_app(seen)) as server:
        monkeypatch.setenv("CYTASKS_CREDENTIAL_LLM_API_KEY_HOSTS", f"127.0.0.1:{server.port}")
        row = await runner.run(
            'a = llm_run("hello")\nb = llm_run("again", temperature=0.5)\nreturn [a, b]',
            directive="You are terse.",
            llm_config={"base_url": f"{server.url}/v1", "model": "local-model"},
        )
    assert row.status == "completed", row.error
    assert row.output_inline == ["echo: hello", "echo: again"]
    assert row.llm_usage == {"prompt_tokens": 14, "completion_tokens": 6, "total_tokens": 20, "calls": 2}
    first = seen[0]["body"]
    assert first["model"] == "local-model"
    assert first["messages"][0] == {"role": "system", "content": "You are terse."}
    assert seen[1]["body"]["temperature"] == 0.5
    assert seen[0]["authorization"] == "Bearer sk-local-test"


async def test_credentials_never_enter_history(runner, monkeypatch):
    seen: list[dict] = []
    monkeypatch.setenv("CYTASKS_CREDENTIAL_LLM_API_KEY", "sk-secret-never-in-history")
    with LocalServer(openai_compatible_app(seen)) as server:
        monkeypatch.setenv("CYTASKS_CREDENTIAL_LLM_API_KEY_HOSTS", f"127.0.0.1:{server.port}")
        run_id = await runner.start(
            'return llm_run("x")', llm_config={"base_url": f"{server.url}/v1"}
        )
        row = await runner.wait(run_id)
    assert row.status == "completed"
    assert seen[0]["authorization"] == "Bearer sk-secret-never-in-history"
    history = await runner.client.get_workflow_handle(f"taskrun-{run_id}").fetch_history()
    assert "sk-secret-never-in-history" not in history.to_json()


async def test_http_request_tool(runner):
    seen: list[dict] = []
    with LocalServer(http_app(seen)) as server:
        row = await runner.run(
            'r = app::http::request("POST", "${input}/items/42", headers={"X-Probe": "yes"}, body={"a": 1})\n'
            "return [r.status, r.body.item, r.body.method]",
            server.url,
        )
    assert row.status == "completed", row.error
    assert row.output_inline == [200, "42", "POST"]
    assert seen[0]["header"] == "yes"
    assert seen[0]["body"] == b'{"a":1}'


def cookie_app(seen: list[dict]) -> FastAPI:
    app = FastAPI()

    @app.get("/cookie")
    async def cookie(request: Request) -> Response:
        seen.append({"peer": request.client.port, "cookie": request.headers.get("cookie")})
        response = Response('{"ok": true}', media_type="application/json")
        response.set_cookie("session", "from-an-earlier-call")
        return response

    return app


async def test_http_calls_share_connections_but_never_cookies(runner, monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)  # with a proxy, each call has a client of its own
    seen: list[dict] = []
    script = 'a = app::http::request("GET", "${input}/cookie")\nb = app::http::request("GET", "${input}/cookie")\nreturn [a.status, b.status]'
    with LocalServer(cookie_app(seen)) as server:
        first = await runner.run(script, server.url)
        second = await runner.run(script, server.url)
    assert first.status == second.status == "completed", (first.error, second.error)
    assert first.output_inline == second.output_inline == [200, 200]
    assert [call["cookie"] for call in seen] == [None] * 4  # each call sends what its script says, nothing more
    # One kept-alive connection for both calls of a run (idle ones close after 2 s).
    assert seen[0]["peer"] == seen[1]["peer"] and seen[2]["peer"] == seen[3]["peer"]


async def test_http_request_rejects_bad_method(runner):
    row = await runner.run('return app::http::request("FETCH", "http://127.0.0.1:1/")')
    assert row.status == "failed"
    assert row.error["type"] == "ToolInvocationError"
    assert "method must be one of" in row.error["message"]
