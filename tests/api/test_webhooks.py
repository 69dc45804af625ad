"""Inbound webhooks end to end: the API, PostgreSQL, the Temporal dev server and a worker.

Deliveries are signed here exactly as docs/webhooks.md tells a sender to sign them."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import pytest

from api_test_helpers import assert_problem, engine_importable, running_app

pytestmark = [
    pytest.mark.stack,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.skipif(not engine_importable(), reason="the worker is not importable"),
]

TERMINAL = {"completed", "failed", "cancelled", "timed_out"}


@pytest.fixture
def e2e(api_worker, client: httpx.AsyncClient) -> httpx.AsyncClient:
    return client


def unauthenticated_count(auth: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("cytasks_hook_deliveries_unauthenticated_total", {"auth": auth}) or 0.0


async def hook_audit(client: httpx.AsyncClient, hook_id: str) -> list[dict[str, Any]]:
    """The hook's delivery entries, oldest first."""
    items = (await client.get("/v1/audit", params={"action": "hook.deliver", "target_id": hook_id})).json()["items"]
    return [item for item in reversed(items) if item["target_id"] == hook_id]


async def set_dedup_key_in_the_database(api_settings, hook_id: str, pointer: str) -> None:
    """A value stored before the API refused it (the API cannot set it any more)."""
    from sqlalchemy import update

    from persistence.db import get_sessionmaker
    from persistence.models import Hook

    async with get_sessionmaker(api_settings.DATABASE_URL)() as session, session.begin():
        await session.execute(update(Hook).where(Hook.id == uuid.UUID(hook_id)).values(dedup_key=pointer))


async def delete_run_rows(api_settings, table: str, run_id: str) -> None:
    from sqlalchemy import text

    from persistence.db import get_sessionmaker

    async with get_sessionmaker(api_settings.DATABASE_URL)() as session, session.begin():
        if table == "workflow_runs":
            await session.execute(text("DELETE FROM task_runs WHERE parent_workflow_run_id = :id"), {"id": run_id})
        await session.execute(text(f"DELETE FROM {table} WHERE id = :id"), {"id": run_id})


def signed(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Cytasks-Timestamp": stamp,
        "X-Cytasks-Signature": f"sha256={digest}",
    }


async def deliver(
    client: httpx.AsyncClient, hook: dict[str, Any], payload: Any, *, secret: str | None = None, **headers: str
) -> httpx.Response:
    body = json.dumps(payload).encode()
    all_headers = {**signed(secret or hook["secret"], body), **headers}
    # No API key: a signed delivery is authenticated by its signature alone.
    return await client.post(hook["url"], content=body, headers={**all_headers, "Authorization": ""})


async def make_task(client: httpx.AsyncClient, cy_name: str, script: str, **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/tasks", json={"name": cy_name, "cy_name": cy_name, "script": script, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def make_hook(client: httpx.AsyncClient, path: str, **settings: Any) -> dict[str, Any]:
    response = await client.post(path, json=settings)
    assert response.status_code == 201, response.text
    return response.json()


async def wait_for(client: httpx.AsyncClient, location: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(location)
        assert response.status_code == 200, response.text
        run = response.json()
        if run["status"] in TERMINAL:
            return run
        assert time.monotonic() < deadline, f"{location} still {run['status']}"
        await asyncio.sleep(0.1)


async def test_a_signed_delivery_runs_the_task_with_the_body_and_the_chosen_headers(e2e, unique):
    task = await make_task(e2e, f"hook_echo_{unique}", "return input")
    hook = await make_hook(
        e2e, f"/v1/tasks/{task['cy_name']}/hooks", name="github", headers=["X-GitHub-Event", "X-Absent"]
    )
    assert hook["url"] == f"/v1/hooks/{hook['id']}"
    assert hook["secret"] and hook["auth"] == "signature" and hook["replay_window_seconds"] == 300
    assert hook["headers"] == ["x-absent", "x-github-event"]

    response = await deliver(e2e, hook, {"action": "opened", "n": 1}, **{"X-GitHub-Event": "issues", "X-Other": "no"})
    assert response.status_code == 202, response.text
    delivered = response.json()
    assert delivered["deduplicated"] is False and delivered["run_type"] == "task_run"
    assert response.headers["Location"] == f"/v1/task-runs/{delivered['run_id']}"

    run = await wait_for(e2e, response.headers["Location"])
    assert run["status"] == "completed", run
    assert run["trigger"] == "webhook"
    assert run["created_by"] == f"hook:{hook['id']}"
    output = run["output"]
    assert output["body"] == {"action": "opened", "n": 1}
    assert output["headers"] == {"x-github-event": "issues"}
    assert output["hook"]["id"] == hook["id"]
    assert output["hook"]["received_at"].endswith("Z")

    audit = (await e2e.get("/v1/audit", params={"action": "hook.deliver", "target_id": hook["id"]})).json()["items"]
    entry = next(item for item in audit if item["target_id"] == hook["id"])
    assert entry["outcome"] == "ok" and entry["details"]["run_id"] == delivered["run_id"]
    assert hook["secret"] not in json.dumps(audit)


async def test_bad_signatures_old_timestamps_and_other_refusals_explain_themselves(e2e, unique):
    task = await make_task(e2e, f"hook_refusals_{unique}", "return input")
    hook = await make_hook(e2e, f"/v1/tasks/{task['cy_name']}/hooks", replay_window_seconds=60)
    body = b'{"a": 1}'
    unauthenticated_before = unauthenticated_count("signature")

    def header_at_fault(response: httpx.Response) -> str:
        problem = assert_problem(response, 401, "invalid-signature")
        [error] = problem["errors"]
        assert error["in"] == "header", problem
        return error["field"]

    wrong = await e2e.post(hook["url"], content=body, headers=signed("not-the-secret", body))
    assert "does not match" in wrong.json()["detail"]
    assert header_at_fault(wrong) == "X-Cytasks-Signature"

    unsigned = await e2e.post(hook["url"], content=body, headers={"Content-Type": "application/json"})
    assert "X-Cytasks-Timestamp" in unsigned.json()["detail"]
    assert header_at_fault(unsigned) == "X-Cytasks-Timestamp"

    old = await e2e.post(hook["url"], content=body, headers=signed(hook["secret"], body, int(time.time()) - 120))
    assert header_at_fault(old) == "X-Cytasks-Timestamp"
    assert "outside the replay window" in old.json()["detail"] and "60" not in old.json()["detail"]

    future = await e2e.post(hook["url"], content=body, headers=signed(hook["secret"], body, int(time.time()) + 120))
    assert future.json()["detail"] == old.json()["detail"]

    # The HMAC is checked first: without the secret, an old timestamp says nothing of the window.
    stale_forgery = await e2e.post(
        hook["url"], content=body, headers=signed("not-the-secret", body, int(time.time()) - 120)
    )
    assert "does not match" in stale_forgery.json()["detail"]

    tampered = signed(hook["secret"], body)
    response = await e2e.post(hook["url"], content=b'{"a": 2}', headers=tampered)
    assert header_at_fault(response) == "X-Cytasks-Signature"

    text = await e2e.post(hook["url"], content=b"a=1", headers={**signed(hook["secret"], b"a=1"), "Content-Type": "text/plain"})
    assert_problem(text, 415, "unsupported-media-type")

    broken = await e2e.post(hook["url"], content=b"{nope", headers=signed(hook["secret"], b"{nope"))
    assert "not JSON" in assert_problem(broken, 400, "invalid-json")["detail"]

    missing = await e2e.post(f"/v1/hooks/{uuid.uuid4()}", content=body, headers=signed(hook["secret"], body))
    assert_problem(missing, 404, "not-found")

    runs = (await e2e.get("/v1/task-runs", params={"task": task["cy_name"]})).json()["items"]
    assert runs == []
    # Only the authenticated refusals are audited; the six unauthenticated ones are counted.
    refused = await hook_audit(e2e, hook["id"])
    assert [(item["outcome"], item["details"]["status"]) for item in refused] == [("refused", 415), ("refused", 400)]
    assert unauthenticated_count("signature") - unauthenticated_before == 6


async def test_a_duplicate_dedup_key_answers_the_first_run_and_starts_nothing(e2e, unique):
    task = await make_task(e2e, f"hook_dedup_{unique}", "return input.body")
    hook = await make_hook(e2e, f"/v1/tasks/{task['cy_name']}/hooks", dedup_key="/event/id")

    first = await deliver(e2e, hook, {"event": {"id": "evt-1"}, "try": 1})
    assert first.status_code == 202, first.text
    again = await deliver(e2e, hook, {"event": {"id": "evt-1"}, "try": 2})
    assert again.status_code == 200, again.text
    assert again.json()["deduplicated"] is True
    assert again.json()["run_id"] == first.json()["run_id"]
    other = await deliver(e2e, hook, {"event": {"id": "evt-2"}})
    assert other.status_code == 202 and other.json()["run_id"] != first.json()["run_id"]

    missing = await deliver(e2e, hook, {"event": {}})
    problem = assert_problem(missing, 422, "validation-error")
    assert problem["errors"][0]["field"] == "/event/id"

    await wait_for(e2e, first.headers["Location"])
    runs = (await e2e.get("/v1/task-runs", params={"task": task["cy_name"]})).json()["items"]
    assert sorted(run["id"] for run in runs) == sorted([first.json()["run_id"], other.json()["run_id"]])
    audit = (await e2e.get("/v1/audit", params={"action": "hook.deliver", "target_id": hook["id"]})).json()["items"]
    accepted = [item["details"] for item in reversed(audit) if item["outcome"] == "ok"]
    assert [(entry["run_id"], entry["deduplicated"]) for entry in accepted] == [
        (first.json()["run_id"], False),
        (first.json()["run_id"], True),
        (other.json()["run_id"], False),
    ]


async def test_disabled_hooks_and_tasks_answer_409_and_large_bodies_413(e2e, unique, api_settings):
    task = await make_task(e2e, f"hook_disabled_{unique}", "return input")
    hook = await make_hook(e2e, f"/v1/tasks/{task['cy_name']}/hooks")

    patched = await e2e.patch(f"/v1/hooks/{hook['id']}", json={"enabled": False})
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    assert_problem(await deliver(e2e, hook, {"x": 1}), 409, "hook-disabled")

    await e2e.patch(f"/v1/hooks/{hook['id']}", json={"enabled": True})
    assert (await e2e.patch(f"/v1/tasks/{task['cy_name']}", json={"status": "disabled"})).status_code == 200
    assert_problem(await deliver(e2e, hook, {"x": 1}), 409, "task-not-runnable")
    await e2e.patch(f"/v1/tasks/{task['cy_name']}", json={"status": "enabled"})

    big = json.dumps({"blob": "x" * api_settings.HOOK_MAX_BODY_BYTES}).encode()
    response = await e2e.post(hook["url"], content=big, headers=signed(hook["secret"], big))
    assert_problem(response, 413, "payload-too-large")
    # A body too large is refused before it is read, so before it is authenticated: not audited.
    assert [item["details"]["status"] for item in await hook_audit(e2e, hook["id"])] == [409, 409]

    assert (await e2e.delete(f"/v1/hooks/{hook['id']}")).status_code == 200
    assert_problem(await deliver(e2e, hook, {"x": 1}), 404, "not-found")


async def test_the_input_schema_of_the_task_applies_to_the_delivery(e2e, unique):
    schema = {
        "type": "object",
        "required": ["body"],
        "properties": {"body": {"type": "object", "required": ["ip"]}},
    }
    task = await make_task(e2e, f"hook_schema_{unique}", "return input.body.ip", input_schema=schema)
    hook = await make_hook(e2e, f"/v1/tasks/{task['cy_name']}/hooks")
    assert_problem(await deliver(e2e, hook, {"host": "a"}), 422, "input-validation-failed")
    accepted = await deliver(e2e, hook, {"ip": "10.0.0.1"})
    assert accepted.status_code == 202, accepted.text
    assert (await wait_for(e2e, accepted.headers["Location"]))["output"] == "10.0.0.1"


async def test_api_key_hooks_take_a_key_that_may_execute(e2e, unique):
    task = await make_task(e2e, f"hook_keyed_{unique}", "return input.body")
    hook = await make_hook(e2e, f"/v1/tasks/{task['cy_name']}/hooks", auth="api_key")
    keys = {}
    for role in ("runner", "viewer"):
        made = await e2e.post("/v1/api-keys", json={"name": f"hook-{role}-{unique}", "roles": [role]})
        keys[role] = made.json()["key"]
    body = b'{"k": 1}'
    json_type = {"Content-Type": "application/json"}

    # The same problem type as a signature hook's: an unauthenticated caller learns no setting.
    no_key = await e2e.post(hook["url"], content=body, headers={**json_type, "Authorization": ""})
    assert assert_problem(no_key, 401, "invalid-signature")["errors"][0]["field"] == "Authorization"
    signed_only = await e2e.post(hook["url"], content=body, headers={**signed(hook["secret"], body), "Authorization": ""})
    assert_problem(signed_only, 401, "invalid-signature")
    wrong_key = await e2e.post(hook["url"], content=body, headers={**json_type, "Authorization": "Bearer nope"})
    assert_problem(wrong_key, 401, "invalid-signature")
    viewer = await e2e.post(hook["url"], content=body, headers={**json_type, "Authorization": f"Bearer {keys['viewer']}"})
    assert "runs:execute" in assert_problem(viewer, 403, "forbidden")["detail"]

    runner = await e2e.post(hook["url"], content=body, headers={**json_type, "Authorization": f"Bearer {keys['runner']}"})
    assert runner.status_code == 202, runner.text
    run = await wait_for(e2e, runner.headers["Location"])
    assert run["output"] == {"k": 1} and run["created_by"] == f"hook-runner-{unique}"


async def test_the_secret_is_shown_once_and_rotation_replaces_it(e2e, unique):
    task = await make_task(e2e, f"hook_secret_{unique}", "return 1")
    hook = await make_hook(e2e, f"/v1/tasks/{task['cy_name']}/hooks", name="once")
    secret = hook["secret"]
    listed = await e2e.get(f"/v1/tasks/{task['cy_name']}/hooks")
    read = await e2e.get(f"/v1/hooks/{hook['id']}")
    patched = await e2e.patch(f"/v1/hooks/{hook['id']}", json={"name": "renamed", "dedup_key": None})
    for response in (listed, read, patched):
        assert response.status_code == 200, response.text
        assert secret not in response.text and "secret" not in response.json()
    assert [item["id"] for item in listed.json()["items"]] == [hook["id"]]
    assert patched.json()["name"] == "renamed"

    rotated = await e2e.post(f"/v1/hooks/{hook['id']}/rotate-secret")
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret != secret and rotated.json()["secret_rotated_at"]
    assert_problem(await deliver(e2e, hook, {}, secret=secret), 401, "invalid-signature")
    assert (await deliver(e2e, hook, {}, secret=new_secret)).status_code == 202


async def test_settings_are_checked_and_unknown_ones_refused(e2e, unique):
    task = await make_task(e2e, f"hook_settings_{unique}", "return 1")
    path = f"/v1/tasks/{task['cy_name']}/hooks"
    cases = [
        ({"colour": "red"}, "colour"),
        ({"auth": "password"}, "auth"),
        ({"dedup_key": "id"}, "dedup_key"),
        ({"headers": ["Authorization"]}, "headers"),
        ({"headers": ["Set-Cookie"]}, "headers"),
        ({"headers": ["Cookie2"]}, "headers"),
        ({"headers": ["X-Api-Key"]}, "headers"),
        ({"headers": ["X-Cytasks-Signature"]}, "headers"),
        ({"dedup_key": "/items/-"}, "dedup_key"),
        ({"dedup_key": "/-"}, "dedup_key"),
        ({"headers": ["bad header"]}, "headers.0"),
        ({"enabled": 0}, "enabled"),
        ({"replay_window_seconds": "300"}, "replay_window_seconds"),
        ({"replay_window_seconds": 0}, "replay_window_seconds"),
        ({"replay_window_seconds": 7200}, "replay_window_seconds"),
    ]
    for settings, field in cases:
        problem = assert_problem(await e2e.post(path, json=settings), 422, "validation-error")
        assert problem["errors"][0]["field"] == field, (settings, problem)
    hook = await make_hook(e2e, path)
    null = await e2e.patch(f"/v1/hooks/{hook['id']}", json={"enabled": None})
    assert assert_problem(null, 422, "validation-error")["errors"][0]["field"] == "enabled"
    dash = await e2e.patch(f"/v1/hooks/{hook['id']}", json={"dedup_key": "/list/-"})
    assert assert_problem(dash, 422, "validation-error")["errors"][0]["field"] == "dedup_key"
    for not_an_id in ("not-a-uuid", "12345"):
        assert_problem(await e2e.get(f"/v1/hooks/{not_an_id}"), 404, "not-found")
        assert_problem(await e2e.patch(f"/v1/hooks/{not_an_id}", json={}), 404, "not-found")
        assert_problem(await e2e.post(f"/v1/hooks/{not_an_id}/rotate-secret"), 404, "not-found")
        assert_problem(await e2e.delete(f"/v1/hooks/{not_an_id}"), 404, "not-found")
        assert_problem(await e2e.post(f"/v1/hooks/{not_an_id}", content=b"{}", headers=signed("x", b"{}")), 404, "not-found")
    assert_problem(await e2e.post(f"/v1/tasks/no_such_{unique}/hooks", json={}), 404, "not-found")
    assert_problem(await e2e.get(f"/v1/hooks/{uuid.uuid4()}"), 404, "not-found")


async def test_public_api_url_makes_hook_urls_absolute(app, e2e, unique):
    task = await make_task(e2e, f"hook_url_{unique}", "return 1")
    settings = app.state.cytasks.settings
    original = settings.PUBLIC_API_URL
    settings.PUBLIC_API_URL = "https://cytasks.example.com/"
    try:
        hook = await make_hook(e2e, f"/v1/tasks/{task['cy_name']}/hooks")
    finally:
        settings.PUBLIC_API_URL = original
    assert hook["url"] == f"https://cytasks.example.com/v1/hooks/{hook['id']}"


async def test_a_workflow_hook_starts_a_workflow_run(e2e, unique):
    await make_task(e2e, f"hook_node_{unique}", "return input.body.n * 2")
    created = await e2e.post(
        "/v1/workflows",
        json={"name": f"hook-flow-{unique}", "nodes": [{"id": "double", "task": f"hook_node_{unique}"}], "edges": []},
    )
    assert created.status_code == 201, created.text
    hook = await make_hook(e2e, f"/v1/workflows/hook-flow-{unique}/hooks", dedup_key="/n")
    assert hook["workflow_id"] == created.json()["id"] and hook["task_id"] is None

    response = await deliver(e2e, hook, {"n": 21})
    assert response.status_code == 202, response.text
    assert response.json()["run_type"] == "workflow_run"
    assert response.headers["Location"] == f"/v1/workflow-runs/{response.json()['run_id']}"
    run = await wait_for(e2e, response.headers["Location"])
    assert run["status"] == "completed", run
    assert run["trigger"] == "webhook"
    assert run["input"]["body"] == {"n": 21}

    again = await deliver(e2e, hook, {"n": 21})
    assert again.status_code == 200 and again.json()["run_id"] == response.json()["run_id"]
    listed = (await e2e.get(f"/v1/workflows/hook-flow-{unique}/hooks")).json()["items"]
    assert [item["id"] for item in listed] == [hook["id"]]

    assert (await e2e.delete(f"/v1/workflows/hook-flow-{unique}")).status_code == 200
    assert_problem(await deliver(e2e, hook, {"n": 22}), 409, "workflow-not-runnable")
    broken = await e2e.post(hook["url"], content=b"{nope", headers=signed(hook["secret"], b"{nope"))
    assert_problem(broken, 409, "workflow-not-runnable")


async def test_a_redelivery_after_a_start_failure_starts_the_run(e2e, unique, api_settings):
    from devstack.ports import find_free_port

    task = await make_task(e2e, f"hook_outage_{unique}", "return input.body.id")
    await make_task(e2e, f"hook_outage_node_{unique}", "return input.body.id")
    flow = await e2e.post(
        "/v1/workflows",
        json={"name": f"hook-outage-{unique}", "nodes": [{"id": "n", "task": f"hook_outage_node_{unique}"}], "edges": []},
    )
    assert flow.status_code == 201, flow.text
    hooks = [
        await make_hook(e2e, f"/v1/tasks/{task['cy_name']}/hooks", dedup_key="/id"),
        await make_hook(e2e, f"/v1/workflows/hook-outage-{unique}/hooks", dedup_key="/id"),
    ]
    # The same database, and a Temporal address nothing listens on.
    down = api_settings.model_copy(update={"TEMPORAL_ADDRESS": f"127.0.0.1:{find_free_port()}"})
    async with running_app(down) as (_, outage):
        for hook in hooks:
            response = await deliver(outage, hook, {"id": "evt-1"})
            failed = assert_problem(response, 503, "workflow-start-failed")
            assert response.headers["Retry-After"]
            hook["failed_run"] = failed["run_id"]

    for hook in hooks:
        retried = await deliver(e2e, hook, {"id": "evt-1"})
        assert retried.status_code == 202, retried.text
        assert retried.json()["deduplicated"] is False and retried.json()["run_id"] != hook["failed_run"]
        run = await wait_for(e2e, retried.headers["Location"])
        assert run["status"] == "completed", run
        again = await deliver(e2e, hook, {"id": "evt-1"})
        assert again.status_code == 200 and again.json()["run_id"] == retried.json()["run_id"]

        entries = await hook_audit(e2e, hook["id"])
        assert [(e["outcome"], e["details"].get("status"), e["details"].get("deduplicated")) for e in entries] == [
            ("refused", 503, None),
            ("ok", None, False),
            ("ok", None, True),
        ]


async def test_a_dedup_value_past_the_end_of_an_array_is_a_missing_value(e2e, unique, api_settings):
    task = await make_task(e2e, f"hook_dash_{unique}", "return 1")
    hook = await make_hook(e2e, f"/v1/tasks/{task['cy_name']}/hooks", dedup_key="/items/0")
    await set_dedup_key_in_the_database(api_settings, hook["id"], "/items/-")
    problem = assert_problem(await deliver(e2e, hook, {"items": [1, 2]}), 422, "validation-error")
    assert problem["errors"][0]["field"] == "/items/-"
    assert [(e["outcome"], e["details"]["status"]) for e in await hook_audit(e2e, hook["id"])] == [("refused", 422)]


async def test_a_repeat_answers_the_first_run_even_when_its_body_fails_the_schema(e2e, unique):
    schema = {"type": "object", "properties": {"body": {"type": "object", "required": ["ip"]}}}
    task = await make_task(e2e, f"hook_repeat_{unique}", "return input.body.ip", input_schema=schema)
    await make_task(e2e, f"hook_repeat_node_{unique}", "return input.body.ip")
    flow = await e2e.post(
        "/v1/workflows",
        json={
            "name": f"hook-repeat-{unique}",
            "nodes": [{"id": "n", "task": f"hook_repeat_node_{unique}"}],
            "edges": [],
            "input_schema": schema,
        },
    )
    assert flow.status_code == 201, flow.text
    for path in (f"/v1/tasks/{task['cy_name']}/hooks", f"/v1/workflows/hook-repeat-{unique}/hooks"):
        hook = await make_hook(e2e, path, dedup_key="/event")
        first = await deliver(e2e, hook, {"event": "e-1", "ip": "10.0.0.1"})
        assert first.status_code == 202, first.text
        repeat = await deliver(e2e, hook, {"event": "e-1"})
        assert repeat.status_code == 200, repeat.text
        assert repeat.json()["run_id"] == first.json()["run_id"] and repeat.json()["deduplicated"] is True
        # A new value is still checked, and a refused one can be delivered again once fixed.
        assert_problem(await deliver(e2e, hook, {"event": "e-2"}), 422, "input-validation-failed")
        fixed = await deliver(e2e, hook, {"event": "e-2", "ip": "10.0.0.2"})
        assert fixed.status_code == 202, fixed.text


async def test_a_huge_refused_value_is_not_copied_into_the_audit_or_the_answer(e2e, unique):
    schema = {"type": "object", "properties": {"body": {"type": "object", "properties": {"n": {"type": "integer"}}}}}
    task = await make_task(e2e, f"hook_huge_{unique}", "return 1", input_schema=schema)
    hook = await make_hook(e2e, f"/v1/tasks/{task['cy_name']}/hooks")
    response = await deliver(e2e, hook, {"n": "x" * 300_000})
    problem = assert_problem(response, 422, "input-validation-failed")
    assert len(response.content) < 5_000, len(response.content)
    assert "is not of type 'integer'" in problem["errors"][0]["message"] or "…" in problem["errors"][0]["message"]
    [entry] = await hook_audit(e2e, hook["id"])
    assert entry["details"]["status"] == 422 and entry["details"]["reason"] == "input-validation-failed"
    assert len(json.dumps(entry["details"])) < 400, entry


async def test_a_duplicate_whose_first_run_is_gone_starts_a_new_run(e2e, unique, api_settings):
    task = await make_task(e2e, f"hook_gone_{unique}", "return input.body.id")
    await make_task(e2e, f"hook_gone_node_{unique}", "return input.body.id")
    flow = await e2e.post(
        "/v1/workflows",
        json={"name": f"hook-gone-{unique}", "nodes": [{"id": "n", "task": f"hook_gone_node_{unique}"}], "edges": []},
    )
    assert flow.status_code == 201, flow.text
    cases = [
        (f"/v1/tasks/{task['cy_name']}/hooks", "task_runs"),
        (f"/v1/workflows/hook-gone-{unique}/hooks", "workflow_runs"),
    ]
    for path, table in cases:
        hook = await make_hook(e2e, path, dedup_key="/id")
        first = await deliver(e2e, hook, {"id": 7})
        assert first.status_code == 202, first.text
        await wait_for(e2e, first.headers["Location"])
        await delete_run_rows(api_settings, table, first.json()["run_id"])
        again = await deliver(e2e, hook, {"id": 7})
        assert again.status_code == 202, again.text
        assert again.json()["run_id"] != first.json()["run_id"] and again.json()["deduplicated"] is False
        assert (await wait_for(e2e, again.headers["Location"]))["status"] == "completed"


async def test_only_keys_that_may_execute_set_up_a_hook(e2e, unique):
    task = await make_task(e2e, f"hook_editor_{unique}", "return 1")
    hook = await make_hook(e2e, f"/v1/tasks/{task['cy_name']}/hooks")
    made = await e2e.post("/v1/api-keys", json={"name": f"hook-editor-{unique}", "roles": ["editor"]})
    editor = {"Authorization": f"Bearer {made.json()['key']}"}
    for method, path, body in [
        ("POST", f"/v1/tasks/{task['cy_name']}/hooks", {}),
        ("PATCH", f"/v1/hooks/{hook['id']}", {"dedup_key": "/id"}),
        ("POST", f"/v1/hooks/{hook['id']}/rotate-secret", None),
    ]:
        problem = assert_problem(await e2e.request(method, path, json=body, headers=editor), 403, "forbidden")
        assert problem["required_permission"] == "runs:execute", problem
    assert (await e2e.get(f"/v1/hooks/{hook['id']}", headers=editor)).json()["dedup_key"] is None
    listed = (await e2e.get(f"/v1/tasks/{task['cy_name']}/hooks", headers=editor)).json()["items"]
    assert [item["id"] for item in listed] == [hook["id"]] and listed[0]["secret_rotated_at"] is None
