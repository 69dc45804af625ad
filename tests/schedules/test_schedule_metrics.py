"""Schedule fire lateness reaches the worker's Prometheus metrics: a fire is observed when its
run is recorded, a backfill's runs are not (they are late on purpose)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

pytestmark = [pytest.mark.stack]

LATENESS = "cytasks_schedule_fire_lateness_seconds"


def observed(task: str) -> float:
    return REGISTRY.get_sample_value(f"{LATENESS}_count", {"task": task}) or 0.0


async def _runs(api, task_id: str) -> list[dict]:
    return (await api.get(f"/v1/tasks/{task_id}/schedule/runs", params={"limit": 50})).json()["items"]


async def _until(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    return result


async def test_fire_lateness_is_observed_for_fires_and_not_for_backfills(api, make_task, sched_worker) -> None:
    task = await make_task('return "fired"')
    base = f"/v1/tasks/{task['id']}/schedule"
    assert (await api.put(base, json={"cron": "0 0 1 1 *", "timezone": "UTC"})).status_code == 200

    before = observed(task["cy_name"])
    run_id = (await api.post(f"{base}/trigger")).json()["run_id"]
    await _until(lambda: _has_run(api, run_id))
    assert observed(task["cy_name"]) == before + 1
    late = REGISTRY.get_sample_value(f"{LATENESS}_bucket", {"le": "+Inf", "task": task["cy_name"]})
    assert late is not None and late >= 1

    after_fire = observed(task["cy_name"])
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    backfill = await api.post(
        f"{base}/backfill", json={"start": (end - timedelta(days=800)).isoformat(), "end": end.isoformat()}
    )
    assert backfill.status_code == 202, backfill.text

    async def backfilled():
        return len([run for run in await _runs(api, task["id"]) if run.get("backfill_id")]) >= 2

    await _until(backfilled)
    assert observed(task["cy_name"]) == after_fire


async def _has_run(api, run_id: str) -> bool:
    response = await api.get(f"/v1/task-runs/{run_id}")
    return response.status_code == 200
