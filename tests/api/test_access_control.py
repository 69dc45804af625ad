"""Who may do what: every route against every role, API keys as a resource, the audit log,
and the rules runs add (a runner's own runs, payloads)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
import pytest_asyncio

from api_test_helpers import assert_problem, running_app

pytestmark = pytest.mark.stack

ROLES = ("admin", "editor", "runner", "approver", "viewer", "payloads")
READERS = {"admin", "editor", "runner", "approver", "viewer"}

# The specification, written independently of api/authz.py: which roles may use each route.
EXPECTED: dict[tuple[str, str], set[str]] = {
    ("POST", "/v1/tasks"): {"admin", "editor"},
    ("GET", "/v1/tasks"): READERS,
    ("GET", "/v1/tasks/{task_id}"): READERS,
    ("PATCH", "/v1/tasks/{task_id}"): {"admin", "editor"},
    ("DELETE", "/v1/tasks/{task_id}"): {"admin", "editor"},
    ("GET", "/v1/tasks/{task_id}/versions"): READERS,
    ("GET", "/v1/tasks/{task_id}/versions/{a}/diff/{b}"): READERS,
    ("POST", "/v1/tasks/{task_id}/rollback"): {"admin", "editor"},
    ("POST", "/v1/tasks/{task_id}/test"): {"admin", "editor", "runner"},
    ("POST", "/v1/tasks/{task_id}/replay"): {"admin", "editor", "runner"},
    ("POST", "/v1/tasks/{task_id}/replay-batch"): {"admin", "editor", "runner"},
    ("POST", "/v1/scripts/check"): READERS,
    ("POST", "/v1/tasks/execute"): {"admin", "runner"},
    ("POST", "/v1/tasks/{task_id}/execute"): {"admin", "runner"},
    ("GET", "/v1/task-runs"): READERS,
    ("GET", "/v1/task-runs/{run_id}"): READERS,
    ("GET", "/v1/task-runs/{run_id}/logs"): READERS,
    ("POST", "/v1/task-runs/{run_id}/cancel"): {"admin", "runner"},
    ("GET", "/v1/questions"): READERS,
    ("GET", "/v1/questions/{question_id}"): READERS,
    ("GET", "/v1/task-runs/{run_id}/questions"): READERS,
    ("POST", "/v1/task-runs/{run_id}/respond"): {"admin", "approver"},
    ("PUT", "/v1/tasks/{task_id}/schedule"): {"admin", "editor"},
    ("GET", "/v1/tasks/{task_id}/schedule"): READERS,
    ("DELETE", "/v1/tasks/{task_id}/schedule"): {"admin", "editor"},
    ("POST", "/v1/tasks/{task_id}/schedule/pause"): {"admin", "editor"},
    ("POST", "/v1/tasks/{task_id}/schedule/unpause"): {"admin", "editor"},
    ("POST", "/v1/tasks/{task_id}/schedule/trigger"): {"admin", "editor"},
    ("POST", "/v1/tasks/{task_id}/schedule/backfill"): {"admin", "editor"},
    ("GET", "/v1/tasks/{task_id}/schedule/fire-times"): READERS,
    ("GET", "/v1/tasks/{task_id}/schedule/runs"): READERS,
    ("POST", "/v1/schedules/reconcile"): {"admin"},
    ("POST", "/v1/api-keys"): {"admin"},
    ("GET", "/v1/api-keys"): {"admin"},
    ("DELETE", "/v1/api-keys/{key_id}"): {"admin"},
    ("GET", "/v1/audit"): {"admin"},
    ("POST", "/v1/workflows"): {"admin", "editor"},
    ("GET", "/v1/workflows"): READERS,
    ("GET", "/v1/workflows/{workflow}"): READERS,
    ("PATCH", "/v1/workflows/{workflow}"): {"admin", "editor"},
    ("DELETE", "/v1/workflows/{workflow}"): {"admin", "editor"},
    ("GET", "/v1/workflows/{workflow}/versions"): READERS,
    ("GET", "/v1/workflows/{workflow}/versions/{version}"): READERS,
    ("POST", "/v1/workflows/{workflow}/execute"): {"admin", "runner"},
    ("PUT", "/v1/workflows/{workflow}/schedule"): {"admin", "editor"},
    ("GET", "/v1/workflows/{workflow}/schedule"): READERS,
    ("DELETE", "/v1/workflows/{workflow}/schedule"): {"admin", "editor"},
    ("POST", "/v1/workflows/{workflow}/schedule/pause"): {"admin", "editor"},
    ("POST", "/v1/workflows/{workflow}/schedule/unpause"): {"admin", "editor"},
    ("POST", "/v1/workflows/{workflow}/schedule/trigger"): {"admin", "editor"},
    ("POST", "/v1/workflows/{workflow}/schedule/backfill"): {"admin", "editor"},
    ("GET", "/v1/workflows/{workflow}/schedule/fire-times"): READERS,
    ("GET", "/v1/workflow-runs"): READERS,
    ("GET", "/v1/workflow-runs/{run_id}"): READERS,
    ("GET", "/v1/workflow-runs/{run_id}/graph"): READERS,
    ("POST", "/v1/workflow-runs/{run_id}/cancel"): {"admin", "runner"},
    ("GET", "/v1/tasks/{task_id}/stats"): READERS,
    ("GET", "/v1/stats"): READERS,
    # Setting up a hook lets its sender run the target with any input: it needs tasks:write
    # and runs:execute, which only an admin has both of.
    ("POST", "/v1/tasks/{task_id}/hooks"): {"admin"},
    ("GET", "/v1/tasks/{task_id}/hooks"): READERS,
    ("POST", "/v1/workflows/{workflow}/hooks"): {"admin"},
    ("GET", "/v1/workflows/{workflow}/hooks"): READERS,
    ("GET", "/v1/hooks/{hook_id}"): READERS,
    ("PATCH", "/v1/hooks/{hook_id}"): {"admin"},
    ("DELETE", "/v1/hooks/{hook_id}"): {"admin", "editor"},
    ("POST", "/v1/hooks/{hook_id}/rotate-secret"): {"admin"},
    # A delivery is authenticated by the hook (its signature, or a key that may execute runs for
    # a hook with auth api_key): no role is refused before the hook is found.
    ("POST", "/v1/hooks/{hook_id}"): set(ROLES),
    ("POST", "/v1/event-rules"): {"admin", "editor"},
    ("GET", "/v1/event-rules"): READERS,
    ("GET", "/v1/event-rules/{rule_id}"): READERS,
    ("PATCH", "/v1/event-rules/{rule_id}"): {"admin", "editor"},
    ("DELETE", "/v1/event-rules/{rule_id}"): {"admin", "editor"},
    ("GET", "/v1/event-rules/{rule_id}/deliveries"): READERS,
    ("POST", "/v1/alerts"): {"admin", "editor"},
    ("GET", "/v1/alerts"): READERS,
    ("GET", "/v1/alerts/{alert_id}"): READERS,
    ("PATCH", "/v1/alerts/{alert_id}"): {"admin", "editor"},
    ("DELETE", "/v1/alerts/{alert_id}"): {"admin", "editor"},
    ("GET", "/v1/alerts/{alert_id}/deliveries"): READERS,
}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def role_keys(app_and_client) -> dict[str, str]:
    """One key per role, made through the API with the bootstrap admin key."""
    client = app_and_client[1]
    suffix = uuid.uuid4().hex[:8]
    keys = {}
    for role in ROLES:
        response = await client.post("/v1/api-keys", json={"name": f"{role}-{suffix}", "roles": [role]})
        assert response.status_code == 201, response.text
        keys[role] = response.json()["key"]
    return keys


def concrete(path: str) -> str:
    return (
        path.replace("{task_id}", f"no-such-task-{uuid.uuid4().hex[:6]}")
        .replace("{run_id}", str(uuid.uuid4()))
        .replace("{question_id}", str(uuid.uuid4()))
        .replace("{key_id}", str(uuid.uuid4()))
        .replace("{hook_id}", str(uuid.uuid4()))
        .replace("{rule_id}", str(uuid.uuid4()))
        .replace("{alert_id}", str(uuid.uuid4()))
        .replace("{workflow}", f"no-such-workflow-{uuid.uuid4().hex[:6]}")
        .replace("{version}", "1")
        .replace("{a}", "1")
        .replace("{b}", "2")
    )


def test_the_specification_covers_every_route(app):
    paths = app.openapi()["paths"]
    routes = {(method.upper(), path) for path, operations in paths.items() if path.startswith("/v1") for method in operations}
    assert routes == set(EXPECTED)


@pytest.mark.parametrize("route", sorted(EXPECTED), ids=lambda route: f"{route[0]} {route[1]}")
async def test_every_role_on_every_route(client, role_keys, route):
    method, path = route
    for role in ROLES:
        response = await client.request(
            method,
            concrete(path),
            json={} if method in ("POST", "PUT", "PATCH") else None,
            headers={"Authorization": f"Bearer {role_keys[role]}"},
        )
        assert response.status_code < 500, (role, response.status_code, response.text)
        if role in EXPECTED[route]:
            assert response.status_code not in (401, 403), (role, response.status_code, response.text)
        else:
            body = assert_problem(response, 403, "forbidden")
            assert body["required_roles"], body
            assert "admin" in body["detail"], body


async def test_keys_are_made_listed_and_revoked_and_revocation_reaches_every_process(client, api_settings):
    name = f"ci-{uuid.uuid4().hex[:8]}"
    created = await client.post("/v1/api-keys", json={"name": name, "roles": ["viewer", "soc-analyst"]})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["roles"] == ["viewer", "soc-analyst"] and body["created_by"] == "bootstrap-admin"
    assert created.headers["Location"] == f"/v1/api-keys/{body['id']}"
    secret = body["key"]
    listed = (await client.get("/v1/api-keys")).json()["items"]
    mine = [key for key in listed if key["name"] == name]
    assert len(mine) == 1 and "key" not in mine[0] and "key_hash" not in mine[0]
    assert_problem(await client.post("/v1/api-keys", json={"name": name, "roles": ["viewer"]}), 409)
    assert_problem(await client.post("/v1/api-keys", json={"name": "x y", "roles": ["viewer"]}), 422)
    assert_problem(await client.post("/v1/api-keys", json={"name": "n", "roles": ["Viewer!"]}), 422)
    assert_problem(
        await client.post("/v1/api-keys", json={"name": "n", "roles": ["viewer"], "expires_at": "2001-01-01T00:00:00Z"}),
        422,
    )

    async with running_app(api_settings) as (_, other_process):
        as_key = {"Authorization": f"Bearer {secret}"}
        assert (await other_process.get("/v1/tasks", headers=as_key)).status_code == 200
        revoked = await client.delete(f"/v1/api-keys/{body['id']}")
        assert revoked.status_code == 204
        await asyncio.sleep(1.1)
        assert_problem(await other_process.get("/v1/tasks", headers=as_key), 401)
    assert_problem(await client.delete(f"/v1/api-keys/{body['id']}"), 404)


async def test_an_expired_key_no_longer_works(client, api_settings):
    from datetime import UTC, datetime, timedelta

    from persistence.db import get_sessionmaker
    from persistence.repository.api_keys import create_api_key

    async with get_sessionmaker(api_settings.DATABASE_URL)() as session, session.begin():
        _, secret = await create_api_key(
            session, f"old-{uuid.uuid4().hex[:8]}", ["viewer"], expires_at=datetime.now(UTC) - timedelta(seconds=1)
        )
    assert_problem(await client.get("/v1/tasks", headers={"Authorization": f"Bearer {secret}"}), 401)


@pytest.mark.usefixtures("api_worker")
async def test_runners_see_and_cancel_only_their_own_runs(client, api_settings):
    suffix = uuid.uuid4().hex[:8]
    keys = {}
    for name, roles in (("alice", ["runner"]), ("bob", ["runner"]), ("vic", ["viewer"]), ("pat", ["viewer", "payloads"])):
        response = await client.post("/v1/api-keys", json={"name": f"{name}-{suffix}", "roles": roles})
        keys[name] = {"Authorization": f"Bearer {response.json()['key']}"}
    started = await client.post(
        "/v1/tasks/execute",
        json={"script": 'log("secret ${input.token}")\nsleep(30)\nreturn input', "input": {"token": "t-123"}},
        headers=keys["alice"],
    )
    assert started.status_code == 202, started.text
    run = started.json()
    assert run["created_by"] == f"alice-{suffix}" and run["input"] == {"token": "t-123"}
    run_id = run["id"]

    for reader in ("bob", "vic"):
        seen = (await client.get(f"/v1/task-runs/{run_id}", headers=keys[reader])).json()
        assert seen["payloads_visible"] is False and seen["input"] is None, (reader, seen)
        assert_problem(await client.get(f"/v1/task-runs/{run_id}/logs", headers=keys[reader]), 403, "forbidden")
    for reader in ("alice", "pat"):
        seen = (await client.get(f"/v1/task-runs/{run_id}", headers=keys[reader])).json()
        assert seen["payloads_visible"] is True and seen["input"] == {"token": "t-123"}, (reader, seen)
        assert (await client.get(f"/v1/task-runs/{run_id}/logs", headers=keys[reader])).status_code == 200

    refused = assert_problem(await client.post(f"/v1/task-runs/{run_id}/cancel", headers=keys["bob"]), 403)
    assert f"alice-{suffix}" in refused["detail"]
    cancelled = await client.post(f"/v1/task-runs/{run_id}/cancel", headers=keys["alice"])
    assert cancelled.status_code == 202, cancelled.text

    entries = (await client.get("/v1/audit", params={"target_id": run_id})).json()["items"]
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("run.cancel", f"alice-{suffix}"),
        ("run.execute", f"alice-{suffix}"),
    ]
    assert all(e["source_address"] for e in entries)


async def test_every_change_is_audited_with_its_actor_and_the_log_pages(client, unique):
    editor = await client.post("/v1/api-keys", json={"name": f"ed-{unique}", "roles": ["editor"]})
    as_editor = {"Authorization": f"Bearer {editor.json()['key']}"}
    task = await client.post(
        "/v1/tasks", json={"name": f"Audited {unique}", "script": "return 1"}, headers=as_editor
    )
    assert task.status_code == 201, task.text
    task_body = task.json()
    assert task_body["created_by"] == f"ed-{unique}"
    task_id = task_body["id"]
    assert (await client.patch(f"/v1/tasks/{task_id}", json={"script": "return 2"}, headers=as_editor)).status_code == 200
    assert (await client.patch(f"/v1/tasks/{task_id}", json={"status": "disabled"}, headers=as_editor)).status_code == 200
    versions = (await client.get(f"/v1/tasks/{task_id}/versions", headers=as_editor)).json()["items"]
    assert {v["created_by"] for v in versions} == {f"ed-{unique}"}
    assert (await client.delete(f"/v1/tasks/{task_id}", headers=as_editor)).status_code == 200

    entries = (await client.get("/v1/audit", params={"actor": f"ed-{unique}", "limit": 2})).json()
    assert [e["action"] for e in entries["items"]] == ["task.archive", "task.status"]
    assert entries["next_cursor"]
    rest = (await client.get("/v1/audit", params={"actor": f"ed-{unique}", "cursor": entries["next_cursor"]})).json()
    assert [e["action"] for e in rest["items"]] == ["task.update", "task.create"]
    assert rest["items"][-1]["target_id"] == task_id
    only_creates = (await client.get("/v1/audit", params={"action": "task.create", "target_id": task_id})).json()
    assert len(only_creates["items"]) == 1
    assert_problem(await client.get("/v1/audit", params={"cursor": "garbage"}), 400, "invalid-cursor")


# `/mcp` (outside /v1, not in the OpenAPI document) admits any valid key; each MCP tool is a call
# of one /v1 route and is allowed exactly to the roles EXPECTED gives that route.
MCP_TOOL_ROUTES: dict[str, tuple[tuple[str, str], dict]] = {
    "list_tasks": (("GET", "/v1/tasks"), {}),
    "get_task": (("GET", "/v1/tasks/{task_id}"), {"task": "no-such-task"}),
    "create_task": (("POST", "/v1/tasks"), {"name": "Refused", "script": "return nowhere"}),
    "update_task": (("PATCH", "/v1/tasks/{task_id}"), {"task": "no-such-task", "description": "d"}),
    "check_script": (("POST", "/v1/scripts/check"), {"script": "return 1"}),
    "run_task": (("POST", "/v1/tasks/{task_id}/execute"), {"task": "no-such-task"}),
    "run_script": (("POST", "/v1/tasks/execute"), {"script": "return nowhere"}),
    "list_runs": (("GET", "/v1/task-runs"), {}),
    "get_run": (("GET", "/v1/task-runs/{run_id}"), {"run_id": str(uuid.uuid4())}),
    "list_questions": (("GET", "/v1/questions"), {}),
    "answer_question": (("POST", "/v1/task-runs/{run_id}/respond"), {"run_id": str(uuid.uuid4()), "answer": "yes"}),
    "test_task": (("POST", "/v1/tasks/{task_id}/test"), {"task": "no-such-task"}),
}


def _mcp_client(app, key: str | None):
    import contextlib

    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    @contextlib.asynccontextmanager
    async def connected():
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://cytasks.test", headers=headers, timeout=30
        ) as http:
            async with Client(streamable_http_client("http://cytasks.test/mcp", http_client=http)) as client:
                yield client

    return connected()


async def test_mcp_admits_every_key_and_each_tool_keeps_its_routes_roles(app, client, role_keys):
    assert_problem(await client.post("/mcp", json={}, headers={"Authorization": ""}), 401, "unauthorized")
    for role in ROLES:
        async with _mcp_client(app, role_keys[role]) as mcp:
            assert {tool.name for tool in (await mcp.list_tools()).tools} == set(MCP_TOOL_ROUTES)
            for tool, (route, arguments) in MCP_TOOL_ROUTES.items():
                result = await mcp.call_tool(tool, arguments)
                text = result.content[0].text if result.content else ""
                if role in EXPECTED[route]:
                    assert "(403)" not in text, (role, tool, text)
                else:
                    assert result.is_error and "(403)" in text and "required_roles" in text, (role, tool, text)
