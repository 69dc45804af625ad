"""The MCP server, driven with the ``mcp`` client library: over stdio (``cytasks mcp`` spawned
against the live API) and over streamable HTTP at ``/mcp`` of the live API."""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from api_test_helpers import assert_problem

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("api_worker")]

CYTASKS = Path(sys.executable).with_name("cytasks")
TOOLS = {
    "list_tasks", "get_task", "create_task", "update_task", "check_script", "run_task", "run_script",
    "list_runs", "get_run", "list_questions", "answer_question", "test_task",
}
BROKEN_SCRIPT = 'x = 1\nreturn x + missing'
ASKING_SCRIPT = 'choice = app::human::ask("Deploy ${input.build}?", responses="yes,no")\nlog("chose ${choice}")\nreturn {"choice": choice}'


@asynccontextmanager
async def over_http(base_url: str, key: str | None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx2.AsyncClient(headers=headers, timeout=90) as http:
        async with Client(streamable_http_client(f"{base_url}/mcp", http_client=http)) as client:
            yield client


@asynccontextmanager
async def over_stdio(base_url: str, key: str) -> AsyncIterator[Client]:
    env = {**os.environ, "CYTASKS_URL": base_url, "CYTASKS_API_KEY": key}
    params = StdioServerParameters(command=str(CYTASKS), args=["mcp"], env=env)
    async with Client(params, read_timeout_seconds=90) as client:
        yield client


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


async def refused(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.content
    return result.content[0].text


async def new_key(client: httpx.AsyncClient, role: str) -> tuple[str, str]:
    name = f"mcp-{role}-{uuid.uuid4().hex[:8]}"
    response = await client.post("/v1/api-keys", json={"name": name, "roles": [role]})
    assert response.status_code == 201, response.text
    return name, response.json()["key"]


async def test_over_http_a_script_is_checked_saved_run_and_audited(live_server, client, unique):
    editor, editor_key = await new_key(client, "editor")
    runner, runner_key = await new_key(client, "runner")

    async with over_http(live_server, editor_key) as mcp:
        assert {tool.name for tool in (await mcp.list_tools()).tools} == TOOLS
        checked = await call(mcp, "check_script", script=BROKEN_SCRIPT)
        assert checked["valid"] is False
        assert checked["errors"][0]["line"] == 2 and checked["errors"][0]["column"], checked
        assert (await call(mcp, "check_script", script="return 1"))["valid"] is True

        bad = await refused(mcp, "create_task", name=f"Broken {unique}", script=BROKEN_SCRIPT)
        assert "line 2" in bad and "column" in bad, bad
        task = await call(
            mcp, "create_task", name=f"Double {unique}", script="log(\"got ${input.n}\")\nreturn {\"twice\": input.n * 2}",
            input_schema={"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}},
        )
        assert task["version"] == 1 and task["created_by"] == editor
        updated = await call(mcp, "update_task", task=task["cy_name"], description="doubles n")
        assert updated["description"] == "doubles n"
        found = await call(mcp, "list_tasks", name=f"Double {unique}")
        assert [item["id"] for item in found["items"]] == [task["id"]]

        not_allowed = await refused(mcp, "run_task", task=task["cy_name"], input={"n": 2})
        assert "forbidden" in not_allowed.lower() and "runner" in not_allowed, not_allowed

    async with over_http(live_server, runner_key) as mcp:
        invalid = await refused(mcp, "run_task", task=task["cy_name"], input={"n": "two"})
        assert "input" in invalid, invalid
        run = await call(mcp, "run_task", task=task["cy_name"], input={"n": 21}, wait_seconds=30)
        assert run["status"] == "completed" and run["output"] == {"twice": 42}, run
        assert run["trigger"] == "mcp"
        read = await call(mcp, "get_run", run_id=run["id"])
        assert read["logs"] == ["got 21"]
        listed = await call(mcp, "list_runs", task=task["cy_name"])
        assert [item["id"] for item in listed["items"]] == [run["id"]]

    entries = (await client.get("/v1/audit", params={"target_id": task["id"]})).json()["items"]
    assert [(e["action"], e["actor"], e["details"].get("client")) for e in entries] == [
        ("task.update", editor, "mcp"),
        ("task.create", editor, "mcp"),
    ]
    executed = (await client.get("/v1/audit", params={"target_id": run["id"]})).json()["items"]
    assert [(e["action"], e["actor"], e["details"]) for e in executed] == [
        ("run.execute", runner, {"task": task["cy_name"], "trigger": "mcp", "client": "mcp"})
    ]
    assert executed[0]["source_address"] == "127.0.0.1"


async def test_over_http_no_key_or_a_wrong_key_is_refused(live_server):
    async with httpx.AsyncClient(base_url=live_server) as http:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        accept = {"Accept": "application/json, text/event-stream"}
        assert_problem(await http.post("/mcp", json=body, headers=accept), 401, "unauthorized")
        wrong = await http.post("/mcp", json=body, headers={**accept, "Authorization": "Bearer not-a-key"})
        problem = assert_problem(wrong, 401, "unauthorized")
        assert wrong.headers["WWW-Authenticate"] == "Bearer" and "not valid" in problem["detail"]
    with pytest.raises(Exception):
        async with over_http(live_server, "not-a-key") as mcp:
            await mcp.list_tools()


async def test_a_viewer_reads_but_may_not_create(live_server, client, unique):
    _, viewer_key = await new_key(client, "viewer")
    async with over_http(live_server, viewer_key) as mcp:
        text = await refused(mcp, "create_task", name=f"Viewer {unique}", script="return 1")
        assert "forbidden" in text.lower() and "tasks:write" in text and "editor" in text, text
        assert (await call(mcp, "list_tasks", limit=1))["items"] is not None
    absent = (await client.get("/v1/tasks", params={"name": f"Viewer {unique}"})).json()["items"]
    assert absent == []


async def test_over_stdio_a_task_runs_and_a_paused_run_is_answered(live_server, client, api_settings, unique):
    async with over_stdio(live_server, api_settings.API_KEY) as mcp:
        assert {tool.name for tool in (await mcp.list_tools()).tools} == TOOLS
        checked = await call(mcp, "check_script", script=BROKEN_SCRIPT)
        assert checked["valid"] is False and checked["errors"][0]["line"] == 2

        task = await call(
            mcp, "create_task", name=f"Stdio {unique}", script="return input.a + input.b",
            data_samples=[{"name": "adds", "input": {"a": 1, "b": 2}, "expected_output": 3}],
        )
        ran = await call(mcp, "run_task", task=task["id"], input={"a": 40, "b": 2})
        assert ran["status"] == "completed" and ran["output"] == 42, ran
        report = await call(mcp, "test_task", task=task["cy_name"])
        assert report["summary"] == {"total": 1, "passed": 1, "failed": 0}, report
        failing = await call(mcp, "test_task", task=task["cy_name"], script="return input.a - input.b")
        assert failing["summary"]["failed"] == 1

        paused = await call(mcp, "run_script", script=ASKING_SCRIPT, input={"build": "b-7"}, wait_seconds=30)
        assert paused["status"] == "paused", paused
        [question] = paused["pending_questions"]
        assert question["question"] == "Deploy b-7?" and question["responses"] == ["yes", "no"]
        pending = await call(mcp, "list_questions", run_id=paused["id"])
        assert [item["id"] for item in pending["items"]] == [question["id"]]

        wrong = await refused(mcp, "answer_question", run_id=paused["id"], answer="maybe")
        assert "422" in wrong and "yes" in wrong, wrong
        await call(mcp, "answer_question", run_id=paused["id"], answer="yes")
        done = await call(mcp, "get_run", run_id=paused["id"], wait_seconds=30)
        assert done["status"] == "completed" and done["output"] == {"choice": "yes"}, done
        assert done["logs"] == ["chose yes"]
        assert done["trigger"] == "mcp"

    answered = (await client.get("/v1/audit", params={"action": "question.answer", "target_id": question["id"]})).json()
    assert [(e["outcome"], e["details"].get("client")) for e in answered["items"]] == [
        ("ok", "mcp"),
        ("invalid", "mcp"),
    ]


async def test_stdio_without_a_key_says_what_it_needs(live_server):
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "CYTASKS_API_KEY"}
    done = subprocess.run([str(CYTASKS), "mcp", "--url", live_server], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "CYTASKS_API_KEY" in done.stderr


async def test_odd_requests_to_mcp_are_answered_at_once_and_never_500(live_server, api_settings):
    key = {"Authorization": f"Bearer {api_settings.API_KEY}", "Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(base_url=live_server, headers=key, timeout=10) as http:
        for method in ("GET", "DELETE"):
            problem = assert_problem(await http.request(method, "/mcp"), 405, "method-not-allowed")
            assert "allowed: POST" in problem["detail"]
        not_json = await http.post("/mcp", content=b"{not json", headers={"Content-Type": "application/json"})
        assert not_json.status_code == 400 and not_json.json()["error"]["code"] == -32700
        unknown = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "no/such", "params": {}})
        assert unknown.json()["error"]["code"] == -32601
        too_large = await http.post("/mcp", content=b"x" * (api_settings.MAX_BODY_BYTES + 1))
        assert too_large.status_code == 413


async def test_unknown_or_mistyped_arguments_and_dot_ids_are_refused_by_name(live_server, client, api_settings, unique):
    async with over_http(live_server, api_settings.API_KEY) as mcp:
        tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
        assert all(tool.input_schema.get("additionalProperties") is False for tool in tools.values())
        assert tools["test_task"].annotations.read_only_hint is False
        assert tools["get_task"].annotations.read_only_hint is True

        task = await call(mcp, "create_task", name=f"Strict {unique}", script="return 1", description="before")
        text = await refused(mcp, "update_task", task=task["cy_name"], cy_name="other", enabled=False, description="after")
        assert "cy_name" in text and "enabled" in text, text
        assert (await call(mcp, "get_task", task=task["cy_name"]))["description"] == "before"

        # A string holding JSON text stays a string.
        braces = await call(mcp, "create_task", name=f"Braces {unique}", script="return input", description='{"a": 1}')
        assert braces["description"] == '{"a": 1}'
        echoed = await call(mcp, "run_script", script="return input", input="[1, 2]", wait_seconds=30)
        assert echoed["output"] == "[1, 2]", echoed

        assert "bogus" in await refused(mcp, "list_tasks", bogus=1)
        assert "wait_seconds" in await refused(mcp, "get_run", run_id=str(uuid.uuid4()), wait_seconds="5")
        assert "limit" in await refused(mcp, "list_tasks", limit="5")

        for dots in (".", "..", " "):
            for tool, arguments, name in [
                ("get_task", {"task": dots}, "task"),
                ("update_task", {"task": dots, "description": "x"}, "task"),
                ("get_run", {"run_id": dots}, "run_id"),
                ("answer_question", {"run_id": dots, "answer": "yes"}, "run_id"),
            ]:
                text = await refused(mcp, tool, **arguments)
                assert f"{name}\n" in text and "must be an id or name" in text, text
    unchanged = (await client.get(f"/v1/tasks/{task['id']}")).json()
    assert unchanged["cy_name"] == task["cy_name"] and unchanged["description"] == "before"


async def test_a_streamed_body_too_large_for_mcp_is_a_problem_document(live_server, api_settings):
    key = {"Authorization": f"Bearer {api_settings.API_KEY}", "Accept": "application/json, text/event-stream"}

    async def chunks():
        for _ in range(api_settings.MAX_BODY_BYTES // 65536 + 2):
            yield b"x" * 65536

    async with httpx.AsyncClient(base_url=live_server, headers=key, timeout=30) as http:
        response = await http.post("/mcp", content=chunks(), headers={"Content-Type": "application/json"})
        assert_problem(response, 413, "payload-too-large")
        assert response.headers["content-type"].startswith("application/problem+json")
        fits = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}})
        assert fits.status_code == 200 and len(fits.json()["result"]["tools"]) == len(TOOLS)
