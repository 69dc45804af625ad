"""The Temporal UI tells the same story as the API: failed runs fail their workflow, a
completed run's result holds its output, a paused run says who it waits for."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from taskrun.contract import TaskRunSummary

pytestmark = pytest.mark.stack


async def details_of(handle) -> str:
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return metadata.current_details


async def test_a_failed_run_fails_its_workflow_with_the_cy_error(runner):
    run_id = await runner.start("x = 1\ny = x / 0\nreturn y", task_name="divide", task_version=3)
    handle = runner.client.get_workflow_handle(f"taskrun-{run_id}")
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "RuntimeError" and cause.non_retryable
    assert "Division by zero (line 2, column 5)" in cause.message
    assert cause.details[0]["status"] == "failed"
    assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED
    assert (await runner.row(run_id)).status == "failed"
    assert "divide v3" in await details_of(handle)


async def test_a_timed_out_run_fails_its_workflow(runner):
    run_id = await runner.start("sleep(30)\nreturn 1", timeout_seconds=1)
    handle = runner.client.get_workflow_handle(f"taskrun-{run_id}")
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert failure.value.cause.type == "TaskTimeout"
    assert (await runner.row(run_id)).status == "timed_out"


async def test_a_completed_run_returns_its_output_and_names_its_task(runner):
    run_id = await runner.start('return {"verdict": "ok"}', task_name="check_ip", task_version=2)
    handle = runner.client.get_workflow_handle(f"taskrun-{run_id}", result_type=TaskRunSummary)
    result = await handle.result()
    assert result.status == "completed"
    assert result.output == {"verdict": "ok"}
    assert result.task == "check_ip v2"
    assert "**check_ip v2**: completed" in await details_of(handle)


async def test_a_large_output_is_pointed_to_not_copied(runner):
    run_id = await runner.start('s = "x"\ni = 0\nwhile (i < 17) { s = s + s\n i += 1 }\nreturn s')
    handle = runner.client.get_workflow_handle(f"taskrun-{run_id}", result_type=TaskRunSummary)
    result = await handle.result()
    assert result.output is None
    assert f"GET /v1/task-runs/{run_id}" in result.output_omitted


async def test_a_paused_run_says_who_it_waits_for(runner):
    run_id = await runner.start('return app::human::ask("Block 10.0.0.1?", responses=["yes", "no"], assignees="soc")')
    handle = runner.client.get_workflow_handle(f"taskrun-{run_id}")
    for _ in range(200):
        details = await details_of(handle)
        if "paused" in details:
            break
        await asyncio.sleep(0.05)
    assert "Waiting for a person: *Block 10.0.0.1?*" in details
    assert "Who may answer: soc" in details
    assert "Answers: yes, no" in details
    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED


async def test_logs_are_readable_while_the_run_goes(runner):
    from persistence.repository import get_logs

    run_id = await runner.start('log("before")\nlog("second")\nsleep(60)\nlog("after")\nreturn 1')
    row = None
    for _ in range(100):
        row = await runner.row(run_id)
        async with runner.sessions() as session:
            lines = [line.message for line in await get_logs(session, row.id)]
        if lines:
            break
        await asyncio.sleep(0.05)
    assert lines == ["before", "second"]
    assert row.status == "running"
    handle = runner.client.get_workflow_handle(f"taskrun-{run_id}")
    await handle.cancel()
    row = await runner.wait(run_id)
    async with runner.sessions() as session:
        stored = await get_logs(session, row.id)
    assert [(line.seq, line.message) for line in stored] == [(1, "before"), (2, "second")]
    assert row.logs_count == 2


async def test_live_logs_and_the_end_write_each_line_once_in_order(runner):
    from persistence.repository import get_logs

    script = 'i = 0\nwhile (i < 5) { log("line ${i}")\n app::test::echo(i)\n i += 1 }\nlog("done")\nreturn i'
    row = await runner.run(script)
    assert row.status == "completed", row.error
    async with runner.sessions() as session:
        stored = await get_logs(session, row.id)
    assert [line.message for line in stored] == [f"line {i}" for i in range(5)] + ["done"]
    assert [line.seq for line in stored] == list(range(1, 7))
