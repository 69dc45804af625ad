"""The run watcher: a workflow closed outside the API ends its row, with the reason in the error."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio import workflow
from temporalio.client import WorkflowFailureError

from activities.run_watch import RunWatchOptions
from persistence.repository import create_run
from taskrun.client import start_task_run
from workflows.maintenance import RunWatchWorkflow
from workflows.maintenance_schedules import ensure_run_watch_schedule
from workflows.task_run import TaskRunWorkflow
from taskrun.contract import TaskRunRequest

pytestmark = pytest.mark.stack

LONG = "sleep(120)\nreturn 1"


async def until_status(runner, run_id: str, statuses: set[str], timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        row = await runner.row(run_id)
        if row.status in statuses:
            return row
        assert time.monotonic() < deadline, f"run {run_id} still {row.status}"
        await asyncio.sleep(0.1)


async def watch(runner, **options):
    return await runner.client.execute_workflow(
        RunWatchWorkflow.run,
        RunWatchOptions(**options),
        id=f"run-watch-test-{uuid.uuid4()}",
        task_queue=runner.settings.TASK_QUEUE,
    )


async def test_scheduled_watcher_reconciles_a_terminated_run_without_any_read(runner):
    """Found through visibility: the run is younger than the describe-based sweep looks at."""
    run_id = await runner.start(LONG)
    await until_status(runner, run_id, {"running"})
    schedule_id = f"run-watch-test-{uuid.uuid4()}"
    await ensure_run_watch_schedule(
        runner.client, runner.settings.TASK_QUEUE, every=timedelta(seconds=2), schedule_id=schedule_id
    )
    try:
        await runner.client.get_workflow_handle(f"taskrun-{run_id}").terminate(reason="operator stop")
        terminated_at = time.monotonic()
        row = await until_status(runner, run_id, {"failed"}, timeout=60)
        reflected_after = time.monotonic() - terminated_at
    finally:
        await runner.client.get_schedule_handle(schedule_id).delete()
    assert row.error["type"] == "WorkflowTerminated"
    assert "operator stop" in row.error["message"]
    assert (row.error["line"], row.error["column"]) == (0, 0)
    assert row.completed_at is not None
    print(f"terminated run reflected after {reflected_after:.1f} s")


async def test_execution_timeout_ends_the_run_timed_out(runner):
    """Started without search attributes, so only the describe-based sweep can find it."""
    script = LONG
    async with runner.sessions() as session, session.begin():
        run_id = str((await create_run(session, trigger="adhoc", cy_script=script)).id)
    handle = await runner.client.start_workflow(
        TaskRunWorkflow.run,
        TaskRunRequest(run_id=run_id, script=script, trigger="adhoc"),
        id=f"taskrun-{run_id}",
        task_queue=runner.settings.TASK_QUEUE,
        execution_timeout=timedelta(seconds=2),
    )
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    assert (await runner.row(run_id)).status == "running"
    report = await watch(runner, sweep_older_than_seconds=0)
    assert run_id in report.reconciled
    row = await runner.row(run_id)
    assert row.status == "timed_out"
    assert row.error["type"] == "WorkflowTimedOut"
    assert "2 s" in row.error["message"]


async def test_a_reset_run_stays_running_and_finishes(runner):
    run_id = await runner.start("sleep(4)\nreturn 7")
    await until_status(runner, run_id, {"running"})
    workflow_id = f"taskrun-{run_id}"
    handle = runner.client.get_workflow_handle(workflow_id)
    events = [event async for event in handle.fetch_history_events()]
    first_task = next(
        event.event_id for event in events if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    )
    description = await handle.describe()
    await runner.client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=runner.client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=description.run_id),
            reason="reset test",
            workflow_task_finish_event_id=first_task,
            request_id=str(uuid.uuid4()),
        )
    )
    report = await watch(runner, sweep_older_than_seconds=0)
    assert run_id not in report.reconciled
    assert (await runner.row(run_id)).status == "running"
    row = await until_status(runner, run_id, {"completed", "failed", "cancelled", "timed_out"})
    assert row.status == "completed", row.error
    assert row.output_inline == 7


async def test_an_unanswered_cancel_is_forced_after_the_grace_period(runner):
    """The workflow sits on a task queue no worker polls, so it can never act on the cancel."""
    async with runner.sessions() as session, session.begin():
        run_id = str((await create_run(session, trigger="adhoc", cy_script="return 1")).id)
    handle = await start_task_run(
        runner.client,
        TaskRunRequest(run_id=run_id, script="return 1", trigger="adhoc"),
        task_queue=f"no-worker-{uuid.uuid4()}",
        eager=False,
    )
    from persistence.repository.runs import request_cancel

    await handle.cancel()
    async with runner.sessions() as session, session.begin():
        assert await request_cancel(session, run_id) is not None
    report = await watch(runner, cancel_grace_seconds=60)
    assert run_id not in report.forced_cancels
    assert (await runner.row(run_id)).status == "pending"
    await asyncio.sleep(1)
    report = await watch(runner, cancel_grace_seconds=0.5)
    assert run_id in report.forced_cancels
    row = await runner.row(run_id)
    assert row.status == "cancelled"
    assert row.error["type"] == "CancelForced"
    assert "forc" in row.error["message"]
    description = await handle.describe()
    assert description.status.name == "TERMINATED"
    again = await watch(runner, cancel_grace_seconds=0.5, sweep_older_than_seconds=0)
    assert run_id not in again.reconciled + again.forced_cancels
    assert (await runner.row(run_id)).error["type"] == "CancelForced"


async def test_a_cancel_sent_straight_to_temporal_before_the_run_started_ends_the_row(runner):
    """The cancel arrives before the first workflow task: the workflow closes without writing the row."""
    import worker
    from activities.runs import RunActivities

    queue = f"late-worker-{uuid.uuid4()}"
    async with runner.sessions() as session, session.begin():
        run_id = str((await create_run(session, trigger="adhoc", cy_script="return 1")).id)
    handle = await start_task_run(
        runner.client,
        TaskRunRequest(run_id=run_id, script="return 1", trigger="adhoc"),
        task_queue=queue,
        eager=False,
    )
    await handle.cancel()
    settings = runner.settings.model_copy(update={"TASK_QUEUE": queue})
    activities = await RunActivities.create(settings)
    try:
        async with worker.build_worker(runner.client, settings, activities):
            with pytest.raises(WorkflowFailureError):
                await asyncio.wait_for(handle.result(), 30)
    finally:
        await activities.close()
    assert (await handle.describe()).status.name == "CANCELED"
    assert (await runner.row(run_id)).status == "pending"
    report = await watch(runner)
    assert run_id in report.reconciled
    row = await runner.row(run_id)
    assert row.status == "cancelled"
    assert row.error["type"] == "WorkflowCancelled"


@workflow.defn(name="AlwaysFailingWorkflowTask", sandboxed=False)
class AlwaysFailingWorkflowTask:
    """Stands for workflow code with a bug: every workflow task raises."""

    @workflow.run
    async def run(self) -> None:
        raise RuntimeError("a bug in workflow code")


async def test_a_run_whose_workflow_task_keeps_failing_is_ended_with_the_failure(runner):
    from temporalio.worker import Worker

    async with runner.sessions() as session, session.begin():
        run_id = str((await create_run(session, trigger="adhoc", cy_script="return 1")).id)
    queue = f"stuck-{uuid.uuid4()}"
    async with Worker(runner.client, task_queue=queue, workflows=[AlwaysFailingWorkflowTask]):
        handle = await runner.client.start_workflow(
            AlwaysFailingWorkflowTask.run, id=f"taskrun-{run_id}", task_queue=queue
        )
        deadline = time.monotonic() + 60
        while (await handle.describe()).raw_description.pending_workflow_task.attempt < 2:
            assert time.monotonic() < deadline, "the workflow task was not retried"
            await asyncio.sleep(0.2)
        report = await watch(runner, sweep_older_than_seconds=0, stuck_attempts=2)
    assert run_id in report.reconciled
    row = await runner.row(run_id)
    assert row.status == "failed"
    assert row.error["type"] == "WorkflowTaskFailing"
    assert "a bug in workflow code" in row.error["message"]
    assert (await handle.describe()).status.name == "TERMINATED"
