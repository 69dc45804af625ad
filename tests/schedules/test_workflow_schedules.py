"""Workflow schedules end to end: the API, a Temporal Schedule starting ``WorkflowRunWorkflow``
and a worker, on the real stack."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from schedules.temporal import workflow_schedule_id_for

pytestmark = [pytest.mark.stack]

PROBLEM = "application/problem+json"


async def eventually(check, timeout: float = 30.0, interval: float = 0.25):
    """Call ``check`` until it returns something truthy (and return it) or the time is up."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(interval)


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"] == f"https://cytasks.dev/problems/{slug}", body
    return body


async def schedule_runs(api: httpx.AsyncClient, workflow_id: str) -> list[dict]:
    response = await api.get(
        "/v1/workflow-runs", params={"workflow": workflow_id, "trigger": "schedule", "limit": 200}
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_interval_schedule_runs_the_workflow_with_its_node_runs(api, make_workflow, sched_worker, temporal) -> None:
    workflow = await make_workflow()
    response = await api.put(f"/v1/workflows/{workflow['name']}/schedule", json={"interval": "2s", "input": {"n": 20}})
    assert response.status_code == 200, response.text
    schedule = response.json()
    assert schedule["workflow_id"] == workflow["id"] and schedule["workflow"] == workflow["name"]
    assert schedule["schedule_id"] == workflow_schedule_id_for(workflow["id"]) == f"cytasks-workflow-{workflow['id']}"
    assert schedule["interval"] == "2s" and schedule["paused"] is False and schedule["in_sync"] is True
    assert len(schedule["next_fire_times"]) == 5

    async def completed():
        runs = [run for run in await schedule_runs(api, workflow["id"]) if run["status"] == "completed"]
        return runs or None

    runs = await eventually(completed)
    assert runs, await schedule_runs(api, workflow["id"])
    run = (await api.get(f"/v1/workflow-runs/{runs[0]['id']}")).json()
    assert run["trigger"] == "schedule" and run["created_by"] == "schedule"
    assert run["output"] == 41 and run["input"] == {"n": 20}
    assert run["workflow_version"] == 1
    assert run["scheduled_time"] is not None
    assert run["temporal_workflow_id"].startswith(f"workflowrun-sched-{workflow['id']}-")
    assert [(node["node_id"], node["status"]) for node in run["nodes"]] == [("double", "completed"), ("inc", "completed")]
    for node in run["nodes"]:
        assert node["task_version"] == 1
        child = (await api.get(f"/v1/task-runs/{node['task_run_id']}")).json()
        assert child["trigger"] == "workflow_node" and child["status"] == "completed"

    # The schedule shows the actions with the workflow runs they recorded.
    async def shown():
        body = (await api.get(f"/v1/workflows/{workflow['id']}/schedule")).json()
        return body if any(action["run_id"] == run["id"] for action in body["recent_actions"]) else None

    body = await eventually(shown)
    assert body, (await api.get(f"/v1/workflows/{workflow['id']}/schedule")).json()
    assert body["num_actions"] >= 1


async def test_trigger_pins_the_current_versions_and_skips_a_disabled_workflow(api, make_workflow, sched_worker, temporal) -> None:
    workflow = await make_workflow()
    response = await api.put(
        f"/v1/workflows/{workflow['id']}/schedule", json={"cron": "0 0 1 1 *", "input": {"n": 1}}
    )
    assert response.status_code == 200, response.text
    # A node task changed after the schedule was set: the fire runs its current version.
    changed = await api.patch(f"/v1/tasks/{workflow['tasks']['inc']['id']}", json={"script": "return input.n + 100"})
    assert changed.status_code == 200, changed.text

    triggered = await api.post(f"/v1/workflows/{workflow['id']}/schedule/trigger")
    assert triggered.status_code == 202, triggered.text
    outcome = triggered.json()
    assert outcome["workflow_id"] == workflow["id"]
    assert outcome["workflow_run_id"], outcome
    done = (await api.get(f"/v1/workflow-runs/{outcome['workflow_run_id']}", params={"wait": 30})).json()
    assert done["status"] == "completed", done
    assert done["output"] == 102
    assert {node["node_id"]: node["task_version"] for node in done["nodes"]} == {"double": 1, "inc": 2}

    # Disabled: the schedule is paused in Temporal, trigger answers 409; enabled again: resumed.
    assert (await api.patch(f"/v1/workflows/{workflow['id']}", json={"status": "disabled"})).status_code == 200
    shown = (await api.get(f"/v1/workflows/{workflow['id']}/schedule")).json()
    assert shown["paused"] is True and shown["pause_reason"] == "workflow_disabled" and shown["paused_by_user"] is False
    described = await temporal.get_schedule_handle(workflow_schedule_id_for(workflow["id"])).describe()
    assert described.schedule.state.paused is True
    assert_problem(await api.post(f"/v1/workflows/{workflow['id']}/schedule/trigger"), 409, "workflow-not-runnable")
    assert (await api.patch(f"/v1/workflows/{workflow['id']}", json={"status": "enabled"})).status_code == 200
    shown = (await api.get(f"/v1/workflows/{workflow['id']}/schedule")).json()
    assert shown["paused"] is False and shown["in_sync"] is True


async def test_a_fire_whose_node_task_is_disabled_is_recorded_failed(api, make_workflow, sched_worker, temporal) -> None:
    workflow = await make_workflow()
    assert (
        await api.put(f"/v1/workflows/{workflow['id']}/schedule", json={"cron": "0 0 1 1 *", "input": {"n": 1}})
    ).status_code == 200
    disabled = await api.patch(f"/v1/tasks/{workflow['tasks']['double']['id']}", json={"status": "disabled"})
    assert disabled.status_code == 200, disabled.text
    triggered = (await api.post(f"/v1/workflows/{workflow['id']}/schedule/trigger")).json()
    assert triggered["workflow_run_id"], triggered
    run = (await api.get(f"/v1/workflow-runs/{triggered['workflow_run_id']}", params={"wait": 30})).json()
    assert run["status"] == "failed" and run["trigger"] == "schedule"
    assert run["error"]["type"] == "TaskNotRunnable" and run["error"]["node_id"] == "double"


async def test_validation_errors_name_the_field(api, make_workflow) -> None:
    workflow = await make_workflow()
    url = f"/v1/workflows/{workflow['id']}/schedule"
    body = assert_problem(await api.put(url, json={"cron": "0 25 * * *"}), 422, "invalid-schedule")
    assert body["errors"][0]["field"] == "cron"
    body = assert_problem(await api.put(url, json={"interval": "5m", "timezone": "Mars/Olympus"}), 422, "invalid-schedule")
    assert body["errors"][0]["field"] == "timezone"
    body = assert_problem(await api.put(url, json={}), 422, "invalid-schedule")
    assert {error["field"] for error in body["errors"]} & {"cron", "interval"}
    body = assert_problem(await api.put(url, json={"interval": "5m", "version": 7}), 422, "invalid-schedule")
    assert body["errors"][0]["field"] == "version"
    # The input is checked against the workflow's input_schema.
    response = await api.put(url, json={"interval": "5m", "input": {"n": "not a number"}})
    body = assert_problem(response, 422, "input-validation-failed")
    assert "$.n" in body["errors"][0]["path"]
    response = await api.put(url, json={"interval": "5m", "unknown": 1})
    assert response.status_code == 422 and response.headers["content-type"].startswith(PROBLEM)
    # Nothing was stored.
    assert_problem(await api.get(url), 404, "not-found")
    assert_problem(await api.put("/v1/workflows/no-such-workflow/schedule", json={"interval": "5m"}), 404, "not-found")
    for path in ("/v1/workflows/a%00b/schedule", "/v1/workflows/a%00b/schedule/pause"):
        response = await api.post(path) if path.endswith("pause") else await api.get(path)
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"].startswith(PROBLEM)


async def test_pause_unpause_delete_and_archive(api, make_workflow, temporal) -> None:
    workflow = await make_workflow()
    url = f"/v1/workflows/{workflow['id']}/schedule"
    assert (await api.put(url, json={"interval": "1h", "input": {"n": 1}})).status_code == 200
    handle = temporal.get_schedule_handle(workflow_schedule_id_for(workflow["id"]))

    paused = await api.post(f"{url}/pause", json={"note": "maintenance window"})
    assert paused.status_code == 200, paused.text
    assert paused.json()["paused"] is True and paused.json()["pause_reason"] == "paused"
    assert paused.json()["note"] == "maintenance window"
    described = await handle.describe()
    assert described.schedule.state.paused is True and described.schedule.state.note == "maintenance window"

    unpaused = await api.post(f"{url}/unpause")
    assert unpaused.status_code == 200, unpaused.text
    assert unpaused.json()["paused"] is False and unpaused.json()["note"] is None
    assert (await handle.describe()).schedule.state.paused is False

    # Archiving the workflow pauses its schedule.
    assert (await api.delete(f"/v1/workflows/{workflow['id']}")).status_code == 200
    shown = (await api.get(url)).json()
    assert shown["paused"] is True and shown["pause_reason"] == "workflow_archived"
    assert (await handle.describe()).schedule.state.paused is True

    assert (await api.delete(url)).status_code == 204
    assert_problem(await api.get(url), 404, "not-found")
    assert_problem(await api.delete(url), 404, "not-found")
    schedule_ids = [listed.id async for listed in await temporal.list_schedules()]
    assert workflow_schedule_id_for(workflow["id"]) not in schedule_ids


async def test_fire_times_follow_the_time_zone(api, make_workflow) -> None:
    workflow = await make_workflow()
    url = f"/v1/workflows/{workflow['id']}/schedule"
    assert (await api.put(url, json={"cron": "0 7 * * *", "timezone": "Europe/Paris", "input": {"n": 1}})).status_code == 200
    response = await api.get(f"{url}/fire-times", params={"start": "2027-01-04T00:00:00Z", "end": "2027-01-05T23:59:59Z"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["workflow_id"] == workflow["id"]
    assert [datetime.fromisoformat(t) for t in body["times"]] == [
        datetime(2027, 1, 4, 6, tzinfo=UTC),
        datetime(2027, 1, 5, 6, tzinfo=UTC),
    ]
    bad = await api.get(f"{url}/fire-times", params={"start": "2027-01-05T00:00:00Z", "end": "2027-01-04T00:00:00Z"})
    assert_problem(bad, 422, "invalid-schedule")
    future = datetime.now(UTC) + timedelta(days=2)
    bad = await api.post(
        f"{url}/backfill", json={"start": datetime.now(UTC).isoformat(), "end": future.isoformat()}
    )
    assert_problem(bad, 422, "invalid-schedule")


async def test_reconciliation_recreates_and_removes_workflow_schedules(api, make_workflow, temporal) -> None:
    from temporalio.client import Schedule, ScheduleActionStartWorkflow, ScheduleIntervalSpec, ScheduleSpec

    workflow = await make_workflow()
    url = f"/v1/workflows/{workflow['id']}/schedule"
    assert (await api.put(url, json={"interval": "1h", "input": {"n": 1}})).status_code == 200
    schedule_id = workflow_schedule_id_for(workflow["id"])
    # Behind the product's back: the schedule deleted, and a stray one no workflow row wants.
    await temporal.get_schedule_handle(schedule_id).delete()
    assert (await api.get(url)).json()["in_sync"] is False
    stray = workflow_schedule_id_for(uuid.uuid4())
    await temporal.create_schedule(
        stray,
        Schedule(
            action=ScheduleActionStartWorkflow("WorkflowRunWorkflow", id="stray", task_queue="nowhere"),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))]),
        ),
    )

    report = await api.post("/v1/schedules/reconcile")
    assert report.status_code == 200, report.text
    assert schedule_id in report.json()["created"]
    assert stray in report.json()["deleted"]
    assert (await api.get(url)).json()["in_sync"] is True
    with pytest.raises(Exception):
        await temporal.get_schedule_handle(stray).describe()


async def test_backfill_runs_past_fire_times_marked_as_a_backfill(api, make_workflow, sched_worker) -> None:
    workflow = await make_workflow()
    url = f"/v1/workflows/{workflow['id']}/schedule"
    assert (await api.put(url, json={"interval": "1h", "offset": "15m", "input": {"n": 3}})).status_code == 200
    response = await api.post(f"{url}/backfill", json={"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T02:00:00Z"})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["workflow_id"] == workflow["id"] and body["expected_runs"] == 2  # 00:15 and 01:15
    backfill_id = body["backfill"]["id"]

    async def backfilled():
        runs = [run for run in await schedule_runs(api, workflow["id"]) if run["status"] == "completed"]
        return runs if len(runs) == 2 else None

    runs = await eventually(backfilled)
    assert runs, await schedule_runs(api, workflow["id"])
    assert sorted(run["scheduled_time"] for run in runs) == ["2026-01-01T00:15:00Z", "2026-01-01T01:15:00Z"]
    assert {run["backfill_id"] for run in runs} == {backfill_id}
    assert (await api.get(url)).json()["backfills"][-1]["id"] == backfill_id


async def test_a_fire_of_a_disabled_workflow_is_skipped_and_a_stale_input_is_recorded_failed(
    api, make_workflow, sched_worker, temporal
) -> None:
    workflow = await make_workflow()
    url = f"/v1/workflows/{workflow['id']}/schedule"
    assert (await api.put(url, json={"cron": "0 0 1 1 *", "input": {"n": 1}})).status_code == 200
    handle = temporal.get_schedule_handle(workflow_schedule_id_for(workflow["id"]))

    # Fired by hand in Temporal while the workflow is disabled: the run ends skipped, nothing recorded.
    assert (await api.patch(f"/v1/workflows/{workflow['id']}", json={"status": "disabled"})).status_code == 200
    await handle.trigger()

    async def fired():
        actions = (await handle.describe()).info.recent_actions
        return actions[-1].action.workflow_id if actions else None

    fired_id = await eventually(fired)
    assert fired_id, "the schedule did not fire"
    summary = await temporal.get_workflow_handle(fired_id).result()
    assert summary["status"] == "skipped" and summary["error_type"] == "WorkflowNotRunnable"
    assert await schedule_runs(api, workflow["id"]) == []

    # The workflow's input_schema changed since the schedule was set: the fire records a failed run.
    assert (await api.patch(f"/v1/workflows/{workflow['id']}", json={"status": "enabled"})).status_code == 200
    stricter = {"type": "object", "required": ["n", "m"]}
    assert (await api.patch(f"/v1/workflows/{workflow['id']}", json={"input_schema": stricter})).status_code == 200
    triggered = (await api.post(f"{url}/trigger")).json()
    assert triggered["workflow_run_id"], triggered
    run = (await api.get(f"/v1/workflow-runs/{triggered['workflow_run_id']}", params={"wait": 30})).json()
    assert run["status"] == "failed" and run["error"]["type"] == "InputValidationFailed"
    assert all(node["task_run_id"] is None for node in run["nodes"])
