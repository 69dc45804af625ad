"""Schedules end to end: the API, Temporal Schedules and a worker, on the real stack."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from schedules.temporal import schedule_id_for

pytestmark = [pytest.mark.stack]

PROBLEM = "application/problem+json"


async def eventually(check, timeout: float = 20.0, interval: float = 0.25):
    """Call ``check`` until it returns something truthy (and return it) or the time is up."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(interval)


async def schedule_runs(api: httpx.AsyncClient, task_id: str, **params) -> list[dict]:
    response = await api.get(f"/v1/tasks/{task_id}/schedule/runs", params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def describe(temporal, task_id: str):
    return await temporal.get_schedule_handle(schedule_id_for(task_id)).describe()


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"] == f"https://cytasks.dev/problems/{slug}", body
    return body


async def test_interval_schedule_creates_schedule_runs(api, make_task, sched_worker, temporal) -> None:
    task = await make_task('return input.n * 2', input_schema={"type": "object", "required": ["n"]})
    response = await api.put(f"/v1/tasks/{task['id']}/schedule", json={"interval": "1s", "input": {"n": 21}})
    assert response.status_code == 200, response.text
    schedule = response.json()
    assert schedule["interval"] == "1s" and schedule["paused"] is False and schedule["in_sync"] is True
    assert len(schedule["next_fire_times"]) == 5

    async def completed_runs():
        runs = [run for run in await schedule_runs(api, task["id"]) if run["status"] == "completed"]
        return runs if len(runs) >= 3 else None

    runs = await eventually(completed_runs)
    assert runs, await schedule_runs(api, task["id"])
    for run in runs:
        assert run["trigger"] == "schedule"
        assert run["output"] == 42
        assert run["input"] == {"n": 21}
        assert run["task_version"] == 1
        assert run["scheduled_time"] is not None
        assert run["backfill_id"] is None
        assert run["workflow_id"].startswith(f"taskrun-sched-{task['id']}-")
        scheduled = datetime.fromisoformat(run["scheduled_time"])
        started = datetime.fromisoformat(run["started_at"])
        assert timedelta(0) <= started - scheduled < timedelta(seconds=5)

    # The runs are normal runs: in run history, filterable by trigger.
    listed = await api.get("/v1/task-runs", params={"task": task["id"], "trigger": "schedule"})
    assert listed.status_code == 200
    assert {run["id"] for run in runs} <= {run["id"] for run in listed.json()["items"]}
    one = await api.get(f"/v1/task-runs/{runs[0]['id']}")
    assert one.json()["trigger"] == "schedule"

    shown = (await api.get(f"/v1/tasks/{task['cy_name']}/schedule")).json()
    assert 1 <= len(shown["recent_actions"]) <= 10
    assert shown["num_actions"] >= 3
    with_runs = [action for action in shown["recent_actions"] if action["run_id"]]
    assert with_runs and all(action["workflow_id"].startswith("taskrun-sched-") for action in with_runs)
    known = {run["id"] for run in await schedule_runs(api, task["id"])}
    assert {action["run_id"] for action in with_runs} <= known

    # Deleting the schedule removes the Temporal schedule; the runs stay.
    assert (await api.delete(f"/v1/tasks/{task['id']}/schedule")).status_code == 204
    with pytest.raises(Exception):
        await describe(temporal, task["id"])
    assert_problem(await api.get(f"/v1/tasks/{task['id']}/schedule"), 404, "not-found")
    assert len(await schedule_runs(api, task["id"])) >= 3


async def test_overlap_skip_with_a_slow_task_skips(api, make_task, sched_worker, temporal) -> None:
    task = await make_task("sleep(3)\nreturn 1")
    response = await api.put(f"/v1/tasks/{task['id']}/schedule", json={"interval": "1s", "overlap": "skip"})
    assert response.status_code == 200, response.text
    await asyncio.sleep(7.5)
    await api.post(f"/v1/tasks/{task['id']}/schedule/pause", json={"note": "end of test"})
    shown = (await api.get(f"/v1/tasks/{task['id']}/schedule")).json()
    assert shown["num_skipped_overlap"] >= 3, shown
    runs = await schedule_runs(api, task["id"])
    # In 7.5 s of a 1 s interval only runs that did not overlap started (each lasts 3 s).
    assert 1 <= len(runs) <= 3, runs
    starts = sorted(datetime.fromisoformat(run["started_at"]) for run in runs if run["started_at"])
    for earlier, later in zip(starts, starts[1:]):
        assert later - earlier >= timedelta(seconds=3)


async def test_pause_stops_runs_and_unpause_resumes(api, make_task, sched_worker, temporal) -> None:
    task = await make_task("return 1")
    base = f"/v1/tasks/{task['id']}/schedule"
    assert (await api.put(base, json={"interval": "1s"})).status_code == 200
    assert await eventually(lambda: _count_at_least(api, task["id"], 2))

    paused = await api.post(f"{base}/pause", json={"note": "upstream maintenance"})
    assert paused.status_code == 200, paused.text
    body = paused.json()
    assert body["paused"] is True and body["pause_reason"] == "paused" and body["note"] == "upstream maintenance"
    assert body["next_fire_times"] == []
    described = await describe(temporal, task["id"])
    assert described.schedule.state.paused is True
    assert described.schedule.state.note == "upstream maintenance"

    await asyncio.sleep(1.5)  # let a fire already under way be recorded
    before = len(await schedule_runs(api, task["id"]))
    await asyncio.sleep(3)
    assert len(await schedule_runs(api, task["id"])) == before

    resumed = await api.post(f"{base}/unpause", json={"note": "back"})
    assert resumed.status_code == 200
    assert resumed.json()["paused"] is False
    assert (await describe(temporal, task["id"])).schedule.state.paused is False
    assert await eventually(lambda: _count_at_least(api, task["id"], before + 2))


async def _count_at_least(api, task_id: str, count: int) -> bool:
    return len(await schedule_runs(api, task_id)) >= count


async def test_trigger_runs_now(api, make_task, sched_worker) -> None:
    task = await make_task('return "now"')
    base = f"/v1/tasks/{task['id']}/schedule"
    assert (await api.put(base, json={"cron": "0 0 1 1 *", "timezone": "Europe/Paris"})).status_code == 200
    started = datetime.now(UTC)
    response = await api.post(f"{base}/trigger")
    assert response.status_code == 202, response.text
    result = response.json()
    assert result["run_id"], result

    async def finished():
        run = (await api.get(f"/v1/task-runs/{result['run_id']}")).json()
        return run if run["status"] == "completed" else None

    run = await eventually(finished)
    assert run and run["trigger"] == "schedule" and run["output"] == "now"
    assert datetime.fromisoformat(run["created_at"]) - started < timedelta(seconds=5)


async def test_a_scheduled_run_can_be_cancelled(api, make_task, sched_worker) -> None:
    task = await make_task('sleep(60)\nreturn "late"')
    base = f"/v1/tasks/{task['id']}/schedule"
    assert (await api.put(base, json={"cron": "0 0 1 1 *"})).status_code == 200
    run_id = (await api.post(f"{base}/trigger")).json()["run_id"]

    async def running():
        run = (await api.get(f"/v1/task-runs/{run_id}")).json()
        return run if run["status"] == "running" else None

    run = await eventually(running)
    assert run and run["workflow_id"].startswith("taskrun-sched-")
    assert run["scheduled_time"] is not None and run["backfill_id"] is None
    assert (await api.post(f"/v1/task-runs/{run_id}/cancel")).status_code == 202

    async def cancelled():
        run = (await api.get(f"/v1/task-runs/{run_id}")).json()
        return run if run["status"] == "cancelled" else None

    assert await eventually(cancelled)


async def test_a_scheduled_run_that_asks_a_question_resumes_on_the_answer(api, make_task, sched_worker) -> None:
    task = await make_task('a = app::human::ask("Go?", responses=["yes", "no"])\nreturn "answer: ${a}"')
    base = f"/v1/tasks/{task['id']}/schedule"
    assert (await api.put(base, json={"cron": "0 0 1 1 *"})).status_code == 200
    run_id = (await api.post(f"{base}/trigger")).json()["run_id"]

    async def paused():
        run = (await api.get(f"/v1/task-runs/{run_id}")).json()
        return run if run["status"] == "paused" else None

    assert await eventually(paused)
    response = await api.post(f"/v1/task-runs/{run_id}/respond", json={"answer": "yes"})
    assert response.status_code == 202, response.text

    async def completed():
        run = (await api.get(f"/v1/task-runs/{run_id}")).json()
        return run if run["status"] == "completed" else None

    run = await eventually(completed)
    assert run and run["output"] == "answer: yes"


async def test_backfill_creates_one_run_per_past_fire_time(api, make_task, sched_worker) -> None:
    task = await make_task("return input")
    base = f"/v1/tasks/{task['id']}/schedule"
    assert (await api.put(base, json={"cron": "*/10 * * * *", "input": "bf", "paused": False})).status_code == 200
    top_of_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start, end = top_of_hour - timedelta(hours=3), top_of_hour - timedelta(hours=2)
    # Fire times in the inclusive range: :00, :10, ..., :50 and the next :00.
    listed = await api.get(f"{base}/fire-times", params={"start": start.isoformat(), "end": end.isoformat()})
    assert len(listed.json()["times"]) == 7

    response = await api.post(f"{base}/backfill", json={"start": start.isoformat(), "end": end.isoformat()})
    assert response.status_code == 202, response.text
    result = response.json()
    assert result["expected_runs"] == 7
    backfill_id = result["backfill"]["id"]

    async def all_done():
        runs = await schedule_runs(api, task["id"], backfill="true")
        return runs if len(runs) >= 7 and all(run["status"] == "completed" for run in runs) else None

    runs = await eventually(all_done, timeout=30)
    assert runs, await schedule_runs(api, task["id"])
    assert len(runs) == 7
    assert {run["backfill_id"] for run in runs} == {backfill_id}
    scheduled = sorted(datetime.fromisoformat(run["scheduled_time"]) for run in runs)
    assert scheduled == [start + timedelta(minutes=10 * i) for i in range(7)]
    assert all(run["output"] == "bf" for run in runs)
    resource = (await api.get(f"/v1/task-runs/{runs[0]['id']}")).json()
    assert resource["backfill_id"] == backfill_id
    assert resource["scheduled_time"] == runs[0]["scheduled_time"]
    assert resource["trigger"] == "schedule"
    assert await schedule_runs(api, task["id"], backfill="false") == []
    shown = (await api.get(base)).json()
    assert shown["backfills"][-1]["id"] == backfill_id
    assert any(action["backfill_id"] == backfill_id for action in shown["recent_actions"])

    future = await api.post(
        f"{base}/backfill",
        json={"start": datetime.now(UTC).isoformat(), "end": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
    )
    assert "future" in assert_problem(future, 422, "invalid-schedule")["detail"]


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"cron": "0 25 * * *"}, "cron", "hour field '25': 25 is out of range; hour must be 0-23"),
        ({"cron": "0 7 * *"}, "cron", "expected 5 fields"),
        ({"cron": "0 7 * * 1#2"}, "cron", "not supported by Temporal schedules"),
        ({"cron": "@every 5m"}, "cron", "use the 'interval' field"),
        ({"interval": "5 minutes"}, "interval", "is not a duration"),
        ({"interval": "0s"}, "interval", "shorter than the minimum of 1s"),
        ({"interval": "5m", "offset": "10m"}, "offset", "must be shorter than the interval"),
        ({"cron": "@daily", "timezone": "Europe/Pariss"}, "timezone", "unknown time zone 'Europe/Pariss'"),
        ({"interval": "5m", "overlap": "sometimes"}, "overlap", "unknown overlap policy"),
        ({"interval": "5m", "catchup_window": "1s"}, "catchup_window", "minimum of 10s"),
        ({"interval": "5m", "jitter": "-3s"}, "jitter", "cannot be negative"),
        ({}, "interval", "exactly one of 'cron'"),
        ({"cron": "@daily", "interval": "5m"}, "cron", "exactly one of 'cron'"),
    ],
)
async def test_invalid_schedules_are_rejected(api, make_task, body, field, fragment) -> None:
    task = await make_task("return 1")
    response = await api.put(f"/v1/tasks/{task['id']}/schedule", json=body)
    problem = assert_problem(response, 422, "invalid-schedule")
    assert fragment in problem["detail"], problem
    assert problem["errors"][0]["field"] == field
    assert (await api.get(f"/v1/tasks/{task['id']}/schedule")).status_code == 404


async def test_schedule_input_is_checked_against_the_input_schema(api, make_task) -> None:
    task = await make_task("return input", input_schema={"type": "object", "required": ["region"]})
    response = await api.put(f"/v1/tasks/{task['id']}/schedule", json={"interval": "5m", "input": {"x": 1}})
    problem = assert_problem(response, 422, "input-validation-failed")
    assert "region" in problem["detail"]
    unknown = await api.put(f"/v1/tasks/{task['id']}/schedule", json={"interval": "5m", "every": "1m"})
    assert_problem(unknown, 422, "validation-error")
    missing = await api.put(f"/v1/tasks/{uuid.uuid4()}/schedule", json={"interval": "5m"})
    assert_problem(missing, 404, "not-found")


async def test_disabling_or_archiving_a_task_pauses_its_schedule(api, make_task, temporal) -> None:
    task = await make_task("return 1")
    base = f"/v1/tasks/{task['id']}/schedule"
    assert (await api.put(base, json={"cron": "*/5 * * * *"})).status_code == 200

    assert (await api.patch(f"/v1/tasks/{task['id']}", json={"status": "disabled"})).status_code == 200
    shown = (await api.get(base)).json()
    assert shown["paused"] is True and shown["pause_reason"] == "task_disabled" and shown["in_sync"]
    assert (await describe(temporal, task["id"])).schedule.state.paused is True
    assert_problem(await api.post(f"{base}/trigger"), 409, "task-not-runnable")
    # Unpausing records the wish, but a disabled task's schedule stays paused.
    assert (await api.post(f"{base}/unpause")).json()["paused"] is True

    assert (await api.patch(f"/v1/tasks/{task['id']}", json={"status": "enabled"})).status_code == 200
    shown = (await api.get(base)).json()
    assert shown["paused"] is False and shown["pause_reason"] is None
    assert (await describe(temporal, task["id"])).schedule.state.paused is False

    assert (await api.delete(f"/v1/tasks/{task['id']}")).status_code == 200
    shown = (await api.get(base)).json()
    assert shown["paused"] is True and shown["pause_reason"] == "task_archived"
    assert (await describe(temporal, task["id"])).schedule.state.paused is True


async def test_a_user_pause_survives_disable_and_enable(api, make_task, temporal) -> None:
    task = await make_task("return 1")
    base = f"/v1/tasks/{task['id']}/schedule"
    assert (await api.put(base, json={"interval": "1h", "paused": True, "note": "not yet"})).status_code == 200
    await api.patch(f"/v1/tasks/{task['id']}", json={"status": "disabled"})
    await api.patch(f"/v1/tasks/{task['id']}", json={"status": "enabled"})
    shown = (await api.get(base)).json()
    assert shown["paused"] is True and shown["pause_reason"] == "paused" and shown["note"] == "not yet"


async def test_reconciliation_restores_a_deleted_schedule(api, make_task, sched_settings, temporal) -> None:
    from conftest import app_client
    from temporalio.client import Schedule, ScheduleActionStartWorkflow, ScheduleIntervalSpec, ScheduleSpec

    task = await make_task("return 1")
    base = f"/v1/tasks/{task['id']}/schedule"
    assert (await api.put(base, json={"cron": "0 7 * * 1-5", "timezone": "Europe/Paris"})).status_code == 200
    other = await make_task("return 2")
    assert (await api.put(f"/v1/tasks/{other['id']}/schedule", json={"interval": "1h"})).status_code == 200

    # Behind the product's back: one schedule deleted, another paused, a stray one created.
    await temporal.get_schedule_handle(schedule_id_for(task["id"])).delete()
    await temporal.get_schedule_handle(schedule_id_for(other["id"])).pause(note="by hand")
    stray_task = str(uuid.uuid4())
    await temporal.create_schedule(
        schedule_id_for(stray_task),
        Schedule(
            action=ScheduleActionStartWorkflow("TaskRunWorkflow", id="stray", task_queue="nowhere"),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))]),
        ),
    )
    shown = (await api.get(base)).json()
    assert shown["in_sync"] is False

    # A new API process reconciles at start.
    async with app_client(sched_settings) as (app, _client):
        report = await asyncio.wait_for(app.state.schedule_reconciliation, 60)
    assert task["id"] in report.created
    assert other["id"] in report.updated
    assert stray_task in report.deleted

    restored = await describe(temporal, task["id"])
    assert restored.schedule.spec.time_zone_name == "Europe/Paris"
    assert (await api.get(base)).json()["in_sync"] is True
    assert (await describe(temporal, other["id"])).schedule.state.paused is False
    with pytest.raises(Exception):
        await temporal.get_schedule_handle(schedule_id_for(stray_task)).describe()

    # On demand too; nothing left to repair.
    again = (await api.post("/v1/schedules/reconcile")).json()
    assert task["id"] not in again["created"] + again["updated"]


async def test_a_schedule_can_pin_a_version(api, make_task, sched_worker) -> None:
    task = await make_task('return "first"')
    assert (await api.patch(f"/v1/tasks/{task['id']}", json={"script": 'return "second"'})).status_code == 200
    base = f"/v1/tasks/{task['id']}/schedule"
    pinned = await api.put(base, json={"cron": "0 0 1 1 *", "version": 1})
    assert pinned.status_code == 200, pinned.text
    assert pinned.json()["version"] == 1
    bad = await api.put(base, json={"cron": "0 0 1 1 *", "version": 7})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "version"
    run_id = (await api.post(f"{base}/trigger")).json()["run_id"]

    async def finished():
        run = (await api.get(f"/v1/task-runs/{run_id}")).json()
        return run if run["status"] == "completed" else None

    run = await eventually(finished)
    assert run and (run["task_version"], run["output"]) == (1, "first")
