"""Starting and reading runs through the API (no worker needed: runs stay pending)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from api_test_helpers import assert_problem, requires_engine, running_app

pytestmark = [pytest.mark.stack, pytest.mark.asyncio(loop_scope="session")]

SCHEMA = {
    "type": "object",
    "required": ["alert"],
    "properties": {
        "alert": {
            "type": "object",
            "required": ["id", "severity"],
            "properties": {"id": {"type": "string"}, "severity": {"type": "integer", "minimum": 1}},
        }
    },
}


async def make_task(client: httpx.AsyncClient, name: str, **fields) -> dict:
    response = await client.post(
        "/v1/tasks", json={"name": name, "script": 'return input["alert"]["id"]', **fields}
    )
    assert response.status_code == 201, response.text
    return response.json()


@requires_engine
async def test_execute_task_records_a_pending_run_and_starts_its_workflow(
    client: httpx.AsyncClient, api_stack, unique: str
) -> None:
    task = await make_task(client, f"Run me {unique}", input_schema=SCHEMA)
    payload = {"alert": {"id": "A-1", "severity": 3}}
    response = await client.post(f"/v1/tasks/{task['cy_name']}/execute", json={"input": payload})
    assert response.status_code == 202, response.text
    run = response.json()
    assert response.headers["location"] == f"/v1/task-runs/{run['id']}"
    assert uuid.UUID(run["id"]).version == 7
    assert run["status"] == "pending"
    assert run["trigger"] == "api"
    assert run["task_id"] == task["id"]
    assert run["task_version"] == 1
    assert run["input"] == payload
    assert run["output"] is None and run["error"] is None
    assert run["workflow_id"] == f"taskrun-{run['id']}"
    assert set(run) >= {
        "id", "task_id", "task_version", "status", "trigger", "input", "output", "error", "logs_count",
        "llm_usage", "created_at", "started_at", "completed_at", "duration_ms", "workflow_id",
    }

    description = await api_stack.client.get_workflow_handle(run["workflow_id"]).describe()
    assert description.workflow_type == "TaskRunWorkflow"

    again = await client.get(f"/v1/task-runs/{run['id']}")
    assert again.status_code == 200
    assert again.json()["input"] == payload


async def test_input_failing_the_schema_is_422_naming_the_path(client: httpx.AsyncClient, unique: str) -> None:
    task = await make_task(client, f"Schema {unique}", input_schema=SCHEMA)
    bad = {"alert": {"id": "A-1", "severity": 0}}
    response = await client.post(f"/v1/tasks/{task['id']}/execute", json={"input": bad})
    body = assert_problem(response, 422, "input-validation-failed")
    assert body["errors"][0]["path"] == "$.alert.severity"
    assert "$.alert.severity" in body["detail"]

    missing = await client.post(f"/v1/tasks/{task['id']}/execute", json={"input": {"alert": {}}})
    body = assert_problem(missing, 422, "input-validation-failed")
    assert {e["path"] for e in body["errors"]} == {"$.alert"}
    assert len(body["errors"]) == 2

    runs = (await client.get("/v1/task-runs", params={"task": task["id"]})).json()
    assert runs["items"] == []


async def test_disabled_and_archived_tasks_cannot_run(client: httpx.AsyncClient, unique: str) -> None:
    disabled = await make_task(client, f"Disabled {unique}", status="disabled")
    body = assert_problem(await client.post(f"/v1/tasks/{disabled['id']}/execute", json={}), 409, "task-not-runnable")
    assert "disabled" in body["detail"]

    archived = await make_task(client, f"Archived {unique}")
    await client.delete(f"/v1/tasks/{archived['id']}")
    body = assert_problem(await client.post(f"/v1/tasks/{archived['id']}/execute", json={}), 409, "task-not-runnable")
    assert "archived" in body["detail"]


async def test_execute_unknown_task_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post("/v1/tasks/nope_nope/execute", json={"input": 1}), 404, "not-found")


@requires_engine
async def test_adhoc_run(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/tasks/execute", json={"script": "return input * 2", "input": 21})
    assert response.status_code == 202, response.text
    run = response.json()
    assert run["trigger"] == "adhoc"
    assert run["task_id"] is None and run["task_version"] is None
    assert run["input"] == 21
    assert response.headers["location"] == f"/v1/task-runs/{run['id']}"


@requires_engine
async def test_client_trigger_header(client: httpx.AsyncClient, unique: str) -> None:
    task = await make_task(client, f"Trigger {unique}")
    cli = await client.post(
        f"/v1/tasks/{task['id']}/execute", json={"input": {}}, headers={"X-Cytasks-Trigger": "cli"}
    )
    assert cli.json()["trigger"] == "cli"
    ui = await client.post("/v1/tasks/execute", json={"script": "return 1"}, headers={"X-Cytasks-Trigger": "ui"})
    assert ui.json()["trigger"] == "ui"
    bad = await client.post(
        "/v1/tasks/execute", json={"script": "return 1"}, headers={"X-Cytasks-Trigger": "schedule"}
    )
    body = assert_problem(bad, 422, "validation-error")
    assert body["errors"][0]["field"] == "X-Cytasks-Trigger"


@requires_engine
async def test_idempotency_key_returns_the_same_run(client: httpx.AsyncClient, unique: str) -> None:
    task = await make_task(client, f"Idem {unique}")
    key = f"idem-{unique}"
    headers = {"Idempotency-Key": key}
    first = await client.post(f"/v1/tasks/{task['id']}/execute", json={"input": {"n": 1}}, headers=headers)
    second = await client.post(f"/v1/tasks/{task['id']}/execute", json={"input": {"n": 1}}, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert second.headers["location"] == first.headers["location"]

    runs = (await client.get("/v1/task-runs", params={"task": task["id"]})).json()["items"]
    assert [r["id"] for r in runs] == [first.json()["id"]]

    different = await client.post(f"/v1/tasks/{task['id']}/execute", json={"input": {"n": 2}}, headers=headers)
    body = assert_problem(different, 422, "idempotency-key-reused")
    assert body["run_id"] == first.json()["id"]

    other_target = await client.post("/v1/tasks/execute", json={"script": "return 1"}, headers=headers)
    assert_problem(other_target, 422, "idempotency-key-reused")


@requires_engine
async def test_idempotent_adhoc_runs(client: httpx.AsyncClient, unique: str) -> None:
    headers = {"Idempotency-Key": f"adhoc-{unique}"}
    body = {"script": "return 7", "input": None}
    first = await client.post("/v1/tasks/execute", json=body, headers=headers)
    second = await client.post("/v1/tasks/execute", json=body, headers=headers)
    assert first.json()["id"] == second.json()["id"]


@requires_engine
async def test_concurrent_requests_with_one_key_make_one_run(client: httpx.AsyncClient, unique: str) -> None:
    import asyncio

    headers = {"Idempotency-Key": f"race-{unique}"}
    responses = await asyncio.gather(
        *(client.post("/v1/tasks/execute", json={"script": "return 1"}, headers=headers) for _ in range(5))
    )
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["id"] for r in responses}) == 1


async def test_workflow_start_failure_fails_the_run_with_503(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.services import runs as runs_service

    async def refuse(*args, **kwargs):
        raise RuntimeError("temporal is down")

    monkeypatch.setattr(runs_service, "start_run", refuse)
    response = await client.post("/v1/tasks/execute", json={"script": "return 1"})
    body = assert_problem(response, 503, "workflow-start-failed")
    run = (await client.get(f"/v1/task-runs/{body['run_id']}")).json()
    assert run["status"] == "failed"
    assert run["error"]["type"] == "WorkflowStartFailed"
    assert "temporal is down" in run["error"]["message"]
    assert run["completed_at"] is not None


@requires_engine
async def test_large_input_is_stored_as_a_blob_and_read_back(client: httpx.AsyncClient, api_settings) -> None:
    big = {"data": "x" * (api_settings.INLINE_THRESHOLD_BYTES + 10)}
    response = await client.post("/v1/tasks/execute", json={"script": "return len(input['data'])", "input": big})
    assert response.status_code == 202, response.text
    run_id = response.json()["id"]
    assert (await client.get(f"/v1/task-runs/{run_id}")).json()["input"] == big

    from persistence.db import get_sessionmaker
    from persistence.repository.runs import get_run

    async with get_sessionmaker(api_settings.DATABASE_URL)() as session:
        row = await get_run(session, run_id)
    assert row.input_storage == "file"
    assert row.input_inline is None


@requires_engine
async def test_a_run_whose_input_blob_is_gone_is_still_shown(client: httpx.AsyncClient, api_settings) -> None:
    big = {"data": "y" * (api_settings.INLINE_THRESHOLD_BYTES + 10)}
    response = await client.post("/v1/tasks/execute", json={"script": "return 1", "input": big})
    assert response.status_code == 202, response.text
    run_id = response.json()["id"]
    from persistence.db import get_sessionmaker
    from persistence.repository.runs import get_run

    async with get_sessionmaker(api_settings.DATABASE_URL)() as session:
        row = await get_run(session, run_id)
    path = api_settings.BLOB_DIR / row.input_ref.removeprefix("file:")
    path.unlink()

    shown = await client.get(f"/v1/task-runs/{run_id}")
    assert shown.status_code == 200, shown.text
    assert (shown.json()["input"], shown.json()["payloads_missing"]) == (None, ["input"])
    listed = await client.get("/v1/task-runs", params={"limit": 200})
    assert listed.status_code == 200, listed.text
    assert any(item["id"] == run_id and item["payloads_missing"] == ["input"] for item in listed.json()["items"])


async def test_unknown_run_is_404(client: httpx.AsyncClient) -> None:
    missing = "01234567-89ab-7def-8123-456789abcdef"
    assert_problem(await client.get(f"/v1/task-runs/{missing}"), 404, "not-found")
    assert_problem(await client.get("/v1/task-runs/not-a-uuid"), 404, "not-found")
    assert_problem(await client.get(f"/v1/task-runs/{missing}/logs"), 404, "not-found")
    assert_problem(await client.post(f"/v1/task-runs/{missing}/cancel"), 404, "not-found")


@requires_engine
async def test_new_run_has_no_logs(client: httpx.AsyncClient) -> None:
    run = (await client.post("/v1/tasks/execute", json={"script": "return 1"})).json()
    logs = await client.get(f"/v1/task-runs/{run['id']}/logs")
    assert logs.status_code == 200
    assert logs.json() == {"run_id": run["id"], "items": []}


@requires_engine
async def test_cancel_pending_run_and_terminal_run_conflict(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = (await client.post("/v1/tasks/execute", json={"script": "sleep(60)\nreturn 1"})).json()
    response = await client.post(f"/v1/task-runs/{run['id']}/cancel")
    assert response.status_code == 202, response.text
    assert response.json()["id"] == run["id"]

    from api.services import runs as runs_service

    async def refuse(*args, **kwargs):
        raise RuntimeError("no temporal")

    monkeypatch.setattr(runs_service, "start_run", refuse)
    failed = (await client.post("/v1/tasks/execute", json={"script": "return 1"})).json()
    body = assert_problem(await client.post(f"/v1/task-runs/{failed['run_id']}/cancel"), 409, "run-not-cancellable")
    assert body["run_status"] == "failed"


@requires_engine
async def test_list_runs_filters_and_pages_newest_first(
    client: httpx.AsyncClient, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.services import runs as runs_service

    task = await make_task(client, f"Listed {unique}")
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    real_start = runs_service.start_run

    async def refuse(*args, **kwargs):
        raise RuntimeError("refused")

    ids = []
    for i in range(5):
        trigger = {"X-Cytasks-Trigger": "cli"} if i % 2 else {}
        # The first run fails to start: a status no worker can change.
        monkeypatch.setattr(runs_service, "start_run", refuse if i == 0 else real_start)
        response = await client.post(f"/v1/tasks/{task['id']}/execute", json={"input": {"i": i}}, headers=trigger)
        ids.append(response.json()["id" if i else "run_id"])
    newest_first = list(reversed(ids))

    async def listed(**params) -> dict:
        response = await client.get("/v1/task-runs", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    assert [r["id"] for r in (await listed(task=task["cy_name"]))["items"]] == newest_first
    assert [r["id"] for r in (await listed(task=task["id"], trigger="cli"))["items"]] == [ids[3], ids[1]]
    assert [r["id"] for r in (await listed(task=task["id"], trigger="api"))["items"]] == [ids[4], ids[2], ids[0]]
    assert [r["id"] for r in (await listed(task=task["id"], status="failed"))["items"]] == [ids[0]]
    assert (await listed(task=task["id"], created_before=before.isoformat()))["items"] == []
    assert len((await listed(task=task["id"], created_after=before.isoformat()))["items"]) == 5
    assert (await listed(task="no_such_task_at_all"))["items"] == []

    seen, cursor = [], None
    while True:
        params = {"task": task["id"], "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = await listed(**params)
        seen.extend(r["id"] for r in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == newest_first

    assert_problem(await client.get("/v1/task-runs", params={"status": "bogus"}), 422, "validation-error")
    assert_problem(await client.get("/v1/task-runs", params={"cursor": "%%%"}), 400, "invalid-cursor")


async def test_temporal_down_fails_runs_with_503_and_readyz_reports_it(api_settings) -> None:
    from devstack.ports import find_free_port

    settings = api_settings.model_copy(update={"TEMPORAL_ADDRESS": f"127.0.0.1:{find_free_port()}"})
    async with running_app(settings) as (_, client):
        ready = await client.get("/readyz")
        body = assert_problem(ready, 503, "service-unavailable")
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["temporal"] != "ok"

        response = await client.post("/v1/tasks/execute", json={"script": "return 1"})
        body = assert_problem(response, 503, "workflow-start-failed")
        run = (await client.get(f"/v1/task-runs/{body['run_id']}")).json()
        assert run["status"] == "failed"
        assert run["error"]["type"] == "WorkflowStartFailed"


@requires_engine
async def test_retry_starts_the_workflow_a_cut_off_request_never_started(
    client: httpx.AsyncClient, api_stack, monkeypatch: pytest.MonkeyPatch, unique: str
) -> None:
    from api.services import submission as run_routes

    real = run_routes._start_or_fail

    async def cut_off(*args, **kwargs):
        if kwargs.get("only_if_missing"):
            return await real(*args, **kwargs)
        return None  # the process died after recording the run

    monkeypatch.setattr(run_routes, "_start_or_fail", cut_off)
    headers = {"Idempotency-Key": f"cut-{unique}"}
    body = {"script": "return 5"}
    first = (await client.post("/v1/tasks/execute", json=body, headers=headers)).json()
    handle = api_stack.client.get_workflow_handle(first["workflow_id"])
    with pytest.raises(Exception):
        await handle.describe()

    retry = await client.post("/v1/tasks/execute", json=body, headers=headers)
    assert retry.status_code == 202
    assert retry.json()["id"] == first["id"]
    description = await handle.describe()
    assert description.workflow_type == "TaskRunWorkflow"
