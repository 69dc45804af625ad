"""Run statistics over HTTP: one task's and all tasks', read from the rollups that finishing a
run maintains; a real run through the worker shows up in them."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from api_test_helpers import assert_problem

pytestmark = [pytest.mark.stack, pytest.mark.asyncio(loop_scope="session")]


async def _task(client: httpx.AsyncClient, unique: str, script: str = "return input") -> dict:
    created = await client.post("/v1/tasks", json={"name": f"Stats {unique}", "script": script})
    assert created.status_code == 201, created.text
    return created.json()


async def _finished_runs(api_settings, task_id: str, runs: list[tuple[str, str, int, dict | None, datetime]]) -> list[str]:
    from persistence import repository as repo
    from persistence.db import session_scope

    ids = []
    async with session_scope(api_settings.DATABASE_URL) as session:
        for status, trigger, duration, error, completed_at in runs:
            run = await repo.create_run(session, trigger=trigger, task_id=uuid.UUID(task_id), task_version=1)
            await repo.finish_run(
                session,
                run.id,
                status=status,
                error=error,
                duration_ms=duration,
                completed_at=completed_at,
                llm_usage={"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
            )
            ids.append(str(run.id))
    return ids


async def test_task_stats_count_runs_by_status_and_trigger(client, api_settings, unique) -> None:
    task = await _task(client, unique)
    now = datetime.now(UTC)
    boom = {"type": "ToolError", "message": "upstream 503"}
    ids = await _finished_runs(
        api_settings,
        task["id"],
        [("completed", "api", 100, None, now)] * 6
        + [("completed", "schedule", 2000, None, now)] * 2
        + [("failed", "api", 50, boom, now), ("failed", "schedule", 60, boom, now + timedelta(microseconds=1))]
        + [("completed", "api", 100, None, now - timedelta(days=3))],  # outside 24h, inside 7d
    )

    response = await client.get(f"/v1/tasks/{task['cy_name']}/stats", params={"window": "24h"})
    assert response.status_code == 200, response.text
    stats = response.json()
    assert stats["window"] == "24h" and stats["period"] == "hour"
    assert stats["task"]["task_id"] == task["id"]
    assert stats["runs"] == 10
    assert stats["by_status"] == {"completed": 8, "failed": 2, "cancelled": 0, "timed_out": 0}
    assert stats["by_trigger"]["api"] == 7 and stats["by_trigger"]["schedule"] == 3
    assert stats["success_rate"] == 0.8
    assert stats["errors"] == [{"type": "ToolError", "count": 2, "latest_run_id": ids[9]}]
    assert stats["llm_tokens"] == {"prompt_tokens": 30, "completion_tokens": 20, "total_tokens": 50}
    durations = stats["duration_ms"]
    assert 90 <= durations["p50"] <= 128
    assert 1448 <= durations["p95"] <= 2048 and 1448 <= durations["p99"] <= 2048
    assert durations["mean"] == round((6 * 100 + 2 * 2000 + 110) / 10)
    assert len(stats["series"]) == 24
    assert stats["series"][-1]["total"] == 10 and stats["series"][-1]["by_status"]["failed"] == 2
    assert sum(point["total"] for point in stats["series"]) == 10
    assert stats["active"] == {"pending": 0, "running": 0, "paused": 0}
    assert "top_failing" not in stats or stats["top_failing"] is None

    week = (await client.get(f"/v1/tasks/{task['id']}/stats", params={"window": "7d"})).json()
    assert week["period"] == "day" and len(week["series"]) == 7 and week["runs"] == 11
    month = (await client.get(f"/v1/tasks/{task['id']}/stats", params={"window": "30d"})).json()
    assert len(month["series"]) == 30 and month["runs"] == 11


async def test_all_task_stats_rank_failing_and_slow_tasks(client, api_settings, unique) -> None:
    failing = await _task(client, f"failing-{unique}")
    slow = await _task(client, f"slow-{unique}")
    now = datetime.now(UTC)
    await _finished_runs(
        api_settings, failing["id"], [("failed", "api", 10, {"type": "Boom", "message": "x"}, now)] * 40
    )
    await _finished_runs(api_settings, slow["id"], [("completed", "api", 10_000_000, None, now)] * 3)

    stats = (await client.get("/v1/stats")).json()
    assert stats["window"] == "24h" and stats["task"] is None
    assert stats["runs"] >= 43 and stats["by_status"]["failed"] >= 40
    top = {entry["task_id"]: entry for entry in stats["top_failing"]}
    assert top[failing["id"]]["failed"] == 40 and top[failing["id"]]["failure_rate"] == 1.0
    assert top[failing["id"]]["cy_name"] == failing["cy_name"]
    slowest = {entry["task_id"]: entry for entry in stats["slowest"]}
    assert slowest[slow["id"]]["duration_ms"]["mean"] == 10_000_000
    assert any(error["type"] == "Boom" and error["count"] >= 40 for error in stats["errors"])


async def test_stats_refuse_an_unknown_window_and_task(client) -> None:
    assert_problem(await client.get("/v1/stats", params={"window": "1y"}), 422)
    assert_problem(await client.get("/v1/tasks/no_such_task_here/stats"), 404)


async def test_a_real_run_is_counted_when_it_ends(api_worker, client, unique) -> None:
    task = await _task(client, f"real-{unique}", 'log("x")\nreturn {"ok": True}')
    started = await client.post(f"/v1/tasks/{task['id']}/execute", json={"input": {}})
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    deadline = time.monotonic() + 60
    while (await client.get(f"/v1/task-runs/{run_id}")).json()["status"] != "completed":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    stats = (await client.get(f"/v1/tasks/{task['id']}/stats")).json()
    assert stats["by_status"]["completed"] == 1 and stats["by_trigger"]["api"] == 1
    assert stats["duration_ms"]["p50"] is not None
