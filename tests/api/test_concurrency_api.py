"""``max_concurrency`` through HTTP: every trigger of a task queues at the same semaphore."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import httpx
import pytest

from api_test_helpers import engine_importable

pytestmark = [
    pytest.mark.stack,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.skipif(not engine_importable(), reason="taskrun.client / the worker are not importable yet"),
]

TERMINAL = {"completed", "failed", "cancelled", "timed_out"}
SLEEPY = "sleep(input.seconds)\nreturn input.n"


@pytest.fixture
def e2e(api_worker, client: httpx.AsyncClient) -> httpx.AsyncClient:
    return client


async def get_run(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/task-runs/{run_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def wait_for(client: httpx.AsyncClient, run_id: str, timeout: float = 90, check=None) -> dict[str, Any]:
    check = check or (lambda run: run["status"] in TERMINAL)
    deadline = time.monotonic() + timeout
    while True:
        run = await get_run(client, run_id)
        if check(run):
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run['status']}"
        await asyncio.sleep(0.1)


async def make_task(client: httpx.AsyncClient, unique: str, limit: int | None) -> dict[str, Any]:
    response = await client.post(
        "/v1/tasks", json={"name": f"Gated {unique}", "script": SLEEPY, "max_concurrency": limit}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def execute(client: httpx.AsyncClient, task: dict, seconds: float, n: int, **headers: str) -> str:
    response = await client.post(
        f"/v1/tasks/{task['id']}/execute", json={"input": {"seconds": seconds, "n": n}}, headers=headers
    )
    assert response.status_code == 202, response.text
    return response.json()["id"]


def span(run: dict) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(run["started_at"]), datetime.fromisoformat(run["completed_at"])


def assert_serial(runs: list[dict]) -> None:
    spans = sorted(span(run) for run in runs)
    for (_, earlier_end), (later_start, _) in zip(spans, spans[1:]):
        assert later_start >= earlier_end, spans


async def test_three_api_runs_with_limit_one_never_overlap(e2e: httpx.AsyncClient, unique: str) -> None:
    task = await make_task(e2e, unique, 1)
    run_ids = [await execute(e2e, task, 2, n) for n in range(3)]
    runs = [await wait_for(e2e, run_id) for run_id in run_ids]
    assert [run["status"] for run in runs] == ["completed"] * 3
    assert [run["output"] for run in runs] == [0, 1, 2]
    assert_serial(runs)


async def test_a_waiting_run_shows_pending_with_the_reason(e2e: httpx.AsyncClient, unique: str) -> None:
    task = await make_task(e2e, unique, 1)
    holder = await execute(e2e, task, 3, 0)
    await wait_for(e2e, holder, check=lambda run: run["status"] == "running")
    waiter = await execute(e2e, task, 0, 1, **{"X-Cytasks-Trigger": "cli"})
    waiting = await wait_for(e2e, waiter, check=lambda run: run["waiting_reason"] is not None)
    assert waiting["status"] == "pending"
    assert waiting["waiting_reason"] == "waiting_for_slot"
    assert waiting["started_at"] is None
    assert (await get_run(e2e, holder))["waiting_reason"] is None
    listed = await e2e.get("/v1/task-runs", params={"task": task["id"], "status": "pending"})
    assert [(run["id"], run["waiting_reason"]) for run in listed.json()["items"]] == [(waiter, "waiting_for_slot")]
    done = await wait_for(e2e, waiter)
    assert done["status"] == "completed" and done["waiting_reason"] is None and done["trigger"] == "cli"
    assert_serial([await get_run(e2e, holder), done])


async def test_cancelling_a_waiting_run_through_the_api(e2e: httpx.AsyncClient, unique: str) -> None:
    task = await make_task(e2e, unique, 1)
    holder = await execute(e2e, task, 3, 0)
    await wait_for(e2e, holder, check=lambda run: run["status"] == "running")
    cancelled = await execute(e2e, task, 0, 1)
    last = await execute(e2e, task, 0, 2)
    await wait_for(e2e, last, check=lambda run: run["waiting_reason"] == "waiting_for_slot")
    response = await e2e.post(f"/v1/task-runs/{cancelled}/cancel")
    assert response.status_code == 202, response.text
    gone = await wait_for(e2e, cancelled)
    assert gone["status"] == "cancelled"
    assert (await get_run(e2e, last))["status"] == "pending"
    holder_run, last_run = await wait_for(e2e, holder), await wait_for(e2e, last)
    assert holder_run["status"] == last_run["status"] == "completed"
    assert_serial([holder_run, last_run])


async def test_schedule_fires_queue_behind_api_runs(e2e: httpx.AsyncClient, unique: str) -> None:
    task = await make_task(e2e, unique, 1)
    response = await e2e.put(
        f"/v1/tasks/{task['id']}/schedule",
        json={"interval": "1h", "overlap": "allow_all", "input": {"seconds": 1, "n": 9}},
    )
    assert response.status_code == 200, response.text
    try:
        holder = await execute(e2e, task, 3, 0)
        await wait_for(e2e, holder, check=lambda run: run["status"] == "running")
        fired = []
        for _ in range(2):
            response = await e2e.post(f"/v1/tasks/{task['id']}/schedule/trigger", json={"overlap": "allow_all"})
            assert response.status_code == 202, response.text
            assert response.json().get("run_id"), response.json()
            fired.append(response.json()["run_id"])
            await asyncio.sleep(1.1)  # the fire's workflow id carries its time to the second
        first_fire = await wait_for(e2e, fired[0], check=lambda run: run["waiting_reason"] is not None)
        assert first_fire["status"] == "pending" and first_fire["trigger"] == "schedule"
        runs = [await wait_for(e2e, run_id) for run_id in [holder, *fired]]
        assert [run["status"] for run in runs] == ["completed"] * 3
        assert [run["output"] for run in runs] == [0, 9, 9]
        assert_serial(runs)
        assert span(runs[1])[0] < span(runs[2])[0]
    finally:
        await e2e.delete(f"/v1/tasks/{task['id']}/schedule")


async def test_tasks_without_a_limit_run_at_once(e2e: httpx.AsyncClient, unique: str) -> None:
    task = await make_task(e2e, unique, None)
    run_ids = [await execute(e2e, task, 2, n) for n in range(3)]
    runs = [await wait_for(e2e, run_id) for run_id in run_ids]
    assert [run["status"] for run in runs] == ["completed"] * 3
    spans = sorted(span(run) for run in runs)
    assert spans[-1][0] < spans[0][1]  # all three were executing at the same time
