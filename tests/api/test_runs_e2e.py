"""End to end through HTTP: the API, PostgreSQL, the Temporal dev server and an in-process worker."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from api_test_helpers import assert_problem, engine_importable

pytestmark = [
    pytest.mark.stack,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.skipif(not engine_importable(), reason="taskrun.client / the worker are not importable yet"),
]

TERMINAL = {"completed", "failed", "cancelled", "timed_out"}


@pytest.fixture
def e2e(api_worker, client: httpx.AsyncClient) -> httpx.AsyncClient:
    return client


async def wait_for(client: httpx.AsyncClient, run_id: str, timeout: float = 60, until=TERMINAL) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(f"/v1/task-runs/{run_id}")
        assert response.status_code == 200, response.text
        run = response.json()
        if run["status"] in until:
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run['status']}"
        await asyncio.sleep(0.1)


async def test_saved_task_runs_to_completion(e2e: httpx.AsyncClient, unique: str) -> None:
    created = await e2e.post(
        "/v1/tasks",
        json={
            "name": f"Double {unique}",
            "script": 'log("doubling ${input.n}")\nreturn {"doubled": input.n * 2}',
            "input_schema": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}},
        },
    )
    assert created.status_code == 201, created.text
    task = created.json()
    response = await e2e.post(f"/v1/tasks/{task['cy_name']}/execute", json={"input": {"n": 21}})
    assert response.status_code == 202, response.text
    run = await wait_for(e2e, response.json()["id"])
    assert run["status"] == "completed", run
    assert run["output"] == {"doubled": 42}
    assert run["error"] is None
    assert run["task_version"] == 1
    assert run["started_at"] and run["completed_at"]
    assert run["duration_ms"] is not None and run["duration_ms"] >= 0
    assert run["logs_count"] == 1

    logs = (await e2e.get(f"/v1/task-runs/{run['id']}/logs")).json()
    assert [line["message"] for line in logs["items"]] == ["doubling 21"]

    listed = (await e2e.get("/v1/task-runs", params={"task": task["id"], "status": "completed"})).json()
    assert [r["id"] for r in listed["items"]] == [run["id"]]


async def test_runs_pin_the_version_they_started_with(e2e: httpx.AsyncClient, unique: str) -> None:
    task = (await e2e.post("/v1/tasks", json={"name": f"Pinned {unique}", "script": 'return "v1"'})).json()
    first = (await e2e.post(f"/v1/tasks/{task['id']}/execute", json={})).json()
    await e2e.patch(f"/v1/tasks/{task['id']}", json={"script": 'return "v2"'})
    second = (await e2e.post(f"/v1/tasks/{task['id']}/execute", json={})).json()
    first, second = await wait_for(e2e, first["id"]), await wait_for(e2e, second["id"])
    assert (first["task_version"], first["output"]) == (1, "v1")
    assert (second["task_version"], second["output"]) == (2, "v2")


async def test_adhoc_failing_script_reports_line_and_column(e2e: httpx.AsyncClient) -> None:
    response = await e2e.post("/v1/tasks/execute", json={"script": "x = 1\ny = x / 0\nreturn y"})
    assert response.status_code == 202, response.text
    run = await wait_for(e2e, response.json()["id"])
    assert run["status"] == "failed"
    assert run["trigger"] == "adhoc"
    error = run["error"]
    assert error["type"] and error["message"]
    assert error["line"] == 2
    assert error["column"] >= 1


async def test_adhoc_script_that_does_not_compile_is_422(e2e: httpx.AsyncClient) -> None:
    response = await e2e.post("/v1/tasks/execute", json={"script": "x = (1 +\nreturn x"})
    body = assert_problem(response, 422, "invalid-script")
    assert body["errors"][0]["line"] >= 1
    assert {"type", "message", "line", "column"} <= set(body["errors"][0])


async def test_cancel_a_running_run(e2e: httpx.AsyncClient) -> None:
    started = (await e2e.post("/v1/tasks/execute", json={"script": 'sleep(30)\nreturn "late"'})).json()
    await wait_for(e2e, started["id"], until={"running"})
    response = await e2e.post(f"/v1/task-runs/{started['id']}/cancel")
    assert response.status_code == 202, response.text
    run = await wait_for(e2e, started["id"])
    assert run["status"] == "cancelled"
    assert_problem(await e2e.post(f"/v1/task-runs/{started['id']}/cancel"), 409, "run-not-cancellable")


async def test_task_timeout_ends_timed_out(e2e: httpx.AsyncClient, unique: str) -> None:
    task = (
        await e2e.post(
            "/v1/tasks", json={"name": f"Slow {unique}", "script": 'sleep(30)\nreturn "late"', "timeout_seconds": 1}
        )
    ).json()
    started = (await e2e.post(f"/v1/tasks/{task['id']}/execute", json={})).json()
    run = await wait_for(e2e, started["id"])
    assert run["status"] == "timed_out"
    assert run["error"]["type"]


async def test_idempotent_retry_runs_once(e2e: httpx.AsyncClient, unique: str) -> None:
    headers = {"Idempotency-Key": f"e2e-{unique}"}
    body = {"script": "return input + 1", "input": 1}
    first = await e2e.post("/v1/tasks/execute", json=body, headers=headers)
    run = await wait_for(e2e, first.json()["id"])
    retry = await e2e.post("/v1/tasks/execute", json=body, headers=headers)
    assert retry.status_code == 202
    assert retry.json()["id"] == run["id"]
    assert retry.json()["status"] == "completed"
    assert retry.json()["output"] == 2


async def test_get_with_wait_long_polls_until_the_run_ends(e2e: httpx.AsyncClient) -> None:
    response = await e2e.post("/v1/tasks/execute", json={"script": 'sleep(1)\nreturn "done"', "input": None})
    assert response.status_code == 202, response.text
    run_id = response.json()["id"]
    started = time.monotonic()
    waited = await e2e.get(f"/v1/task-runs/{run_id}", params={"wait": 20})
    assert waited.status_code == 200, waited.text
    assert waited.json()["status"] == "completed"
    assert waited.json()["output"] == "done"
    assert time.monotonic() - started < 10


async def test_get_with_wait_returns_the_current_state_when_time_runs_out(e2e: httpx.AsyncClient) -> None:
    response = await e2e.post("/v1/tasks/execute", json={"script": 'sleep(30)\nreturn "late"', "input": None})
    run_id = response.json()["id"]
    started = time.monotonic()
    waited = await e2e.get(f"/v1/task-runs/{run_id}", params={"wait": 1})
    assert waited.status_code == 200, waited.text
    assert waited.json()["status"] in ("pending", "running")
    assert 0.9 <= time.monotonic() - started < 5
    assert (await e2e.post(f"/v1/task-runs/{run_id}/cancel")).status_code == 202


async def test_get_with_wait_rejects_out_of_range(e2e: httpx.AsyncClient) -> None:
    response = await e2e.post("/v1/tasks/execute", json={"script": "return 1", "input": None})
    bad = await e2e.get(f"/v1/task-runs/{response.json()['id']}", params={"wait": 999})
    assert_problem(bad, 422)


async def test_execute_with_wait_answers_the_finished_run_in_one_round_trip(e2e: httpx.AsyncClient, unique: str) -> None:
    quick = await e2e.post("/v1/tasks/execute", params={"wait": 30}, json={"script": "return input + 1", "input": 41})
    assert quick.status_code == 202, quick.text
    assert (quick.json()["status"], quick.json()["output"]) == ("completed", 42)
    slow = await e2e.post("/v1/tasks/execute", params={"wait": 0.2}, json={"script": "sleep(5)\nreturn 1"})
    assert slow.status_code == 202
    assert slow.json()["status"] in ("pending", "running")
    too_long = await e2e.post("/v1/tasks/execute", params={"wait": 61}, json={"script": "return 1"})
    assert_problem(too_long, 422)


async def test_a_long_poll_outlives_the_loss_of_its_notice_connection(e2e: httpx.AsyncClient, api_settings) -> None:
    from sqlalchemy import text

    from persistence.db import session_scope

    started = await e2e.post("/v1/tasks/execute", json={"script": "sleep(2)\nreturn 7"})
    assert started.status_code == 202, started.text
    poll = asyncio.create_task(e2e.get(f"/v1/task-runs/{started.json()['id']}", params={"wait": 20}))
    await asyncio.sleep(0.5)
    for _ in range(50):  # the API's listening connection (it may be reconnecting after another test)
        async with session_scope(api_settings.DATABASE_URL) as session:
            killed = (
                await session.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'cytasks-run-ends'")
                )
            ).all()
        if killed:
            break
        await asyncio.sleep(0.1)
    assert killed and not poll.done()
    body = (await poll).json()
    assert body["status"] == "completed" and body["output"] == 7  # not the running row of the moment it was lost
