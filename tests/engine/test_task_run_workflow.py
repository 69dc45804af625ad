"""TaskRunWorkflow on the real stack: the interpreter in a workflow, tools as activities."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus

from storage.blobs import make_blob_store
from storage.values import load_value

pytestmark = pytest.mark.stack


async def output_of(runner, row):
    return await load_value(
        row.output_storage, row.output_inline, row.output_ref, make_blob_store(runner.settings)
    )


async def test_pure_script_completes_with_output(runner):
    row = await runner.run('x = input.n * 2\nreturn {"doubled": x, "name": uppercase(input.name)}', {"n": 21, "name": "ada"})
    assert row.status == "completed"
    assert row.output_inline == {"doubled": 42, "name": "ADA"}
    assert row.started_at is not None and row.completed_at >= row.started_at
    assert row.duration_ms >= 0
    assert row.error is None


async def _local_activity_markers(runner, run_id: str) -> int:
    handle = runner.client.get_workflow_handle(f"taskrun-{run_id}")
    markers = [
        event
        async for event in handle.fetch_history_events()
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and event.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]
    return len(markers)


async def _once_running(runner, run_id: str):
    """The run's row once it says running (pending until then), with its start and no end."""
    deadline = asyncio.get_running_loop().time() + 10
    while (row := await runner.row(run_id)).status != "running":
        assert row.status == "pending" and asyncio.get_running_loop().time() < deadline, row.status
        await asyncio.sleep(0.05)
    assert row.started_at is not None and row.completed_at is None
    return row


async def test_a_script_that_never_waits_records_its_start_with_its_end(runner):
    run_id = await runner.start("total = 0\nfor (i in range(50)) { total += i }\nreturn total")
    row = await runner.wait(run_id)
    assert (row.status, row.output_inline) == ("completed", 1225)
    assert row.started_at is not None and row.workflow_run_id
    assert await _local_activity_markers(runner, run_id) == 1


async def test_a_run_is_recorded_running_before_its_first_wait(runner):
    run_id = await runner.start("sleep(2)\nreturn 1")
    row = await _once_running(runner, run_id)
    assert (await runner.wait(run_id)).status == "completed"
    assert await _local_activity_markers(runner, run_id) == 2


async def test_the_first_tool_call_records_the_start_beside_the_call(runner):
    run_id = await runner.start("a = app::test::slow(1.5)\nb = app::test::echo(2)\nreturn [a, b]")
    row = await _once_running(runner, run_id)
    ended = await runner.wait(run_id)
    assert (ended.status, ended.output_inline, ended.started_at) == ("completed", ["slow done", 2], row.started_at)
    assert await _local_activity_markers(runner, run_id) == 1  # the end's only


async def test_a_start_the_tool_could_not_record_is_recorded_with_the_end(temporal_client, engine_settings):
    import worker

    from activities.runs import RunActivities

    from .conftest import Runner

    settings = engine_settings.model_copy(update={"TASK_QUEUE": f"start-recorder-down-{uuid.uuid4()}"})
    activities = await RunActivities.create(settings)
    unreachable = settings.model_copy(update={"DATABASE_URL": "postgresql+asyncpg://nobody:none@127.0.0.1:9/none"})
    activities.record_start_beside_tool = RunActivities(unreachable, activities.blobs).record_start_beside_tool
    runner = Runner(temporal_client, settings)
    async with worker.build_worker(temporal_client, settings, activities):
        run_id = await runner.start("a = app::test::echo(1)\nsleep(0.2)\nreturn a")
        row = await runner.wait(run_id)
    assert (row.status, row.output_inline) == ("completed", 1)
    assert row.started_at is not None and row.completed_at >= row.started_at
    assert await _local_activity_markers(runner, run_id) == 2  # the start before the sleep, then the end


async def test_failing_script_records_cy_error_with_position(runner):
    row = await runner.run("x = 1\ny = x / 0\nreturn y")
    assert row.status == "failed"
    assert row.error["type"] == "RuntimeError"
    assert row.error["message"] == "Division by zero"
    assert (row.error["line"], row.error["column"]) == (2, 5)


async def test_tool_calls_are_activities_named_by_fqn(runner):
    run_id = await runner.start('a = app::test::echo("one")\nb = app::test::echo(value="two")\nreturn [a, b]')
    row = await runner.wait(run_id)
    assert row.status == "completed"
    assert row.output_inline == ["one", "two"]
    handle = runner.client.get_workflow_handle(f"taskrun-{run_id}")
    scheduled = [
        event.activity_task_scheduled_event_attributes.activity_type.name
        async for event in handle.fetch_history_events()
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert scheduled == ["app::test::echo", "app::test::echo"]


async def test_tool_failure_is_a_tool_invocation_error_at_the_call(runner):
    row = await runner.run('x = 1\nreturn app::test::fail("boom")')
    assert row.status == "failed"
    assert row.error["type"] == "ToolInvocationError"
    assert row.error["message"] == "Tool 'app::test::fail' failed: boom"
    assert (row.error["line"], row.error["column"]) == (2, 8)


async def test_tool_value_error_can_be_caught_by_the_script(runner):
    row = await runner.run('try {\n  app::test::reject(3)\n} catch (e) {\n  return "caught: ${e}"\n}\nreturn "no"')
    assert row.status == "completed"
    assert row.output_inline == "caught: Line 2, Col 3: reject() refused 3"


async def test_logs_are_recorded(runner):
    row = await runner.run('log("first")\nfor (i in [1, 2]) { log("item ${i}") }\nreturn len(input)', [1, 2, 3])
    assert row.status == "completed"
    assert row.logs_count == 3
    assert row.output_inline == 3


async def test_now_and_sleep_come_from_the_workflow(runner):
    row = await runner.run('a = now()\nsleep(1)\nb = now()\nreturn duration_between(a, b)')
    assert row.status == "completed"
    assert row.output_inline in ("1s", "2s")


async def test_large_tool_result_stays_out_of_history(runner):
    size = 5 * 1024 * 1024
    run_id = await runner.start("r = app::test::big(input)\nreturn r", size)
    row = await runner.wait(run_id, timeout=120)
    assert row.status == "completed"
    assert row.output_storage != "inline" and row.output_ref
    output = await output_of(runner, row)
    assert output == "x" * size
    handle = runner.client.get_workflow_handle(f"taskrun-{run_id}")
    history = await handle.fetch_history()
    assert len(history.to_json()) < 512 * 1024


async def test_timeout_ends_the_run_timed_out(runner):
    row = await runner.run('app::test::slow(30)\nreturn "late"', timeout_seconds=1)
    assert row.status == "timed_out"
    assert row.error["type"] == "TaskTimeout"


async def test_cancel_ends_the_run_cancelled(runner):
    run_id = await runner.start('sleep(60)\nreturn "late"')
    handle = runner.client.get_workflow_handle(f"taskrun-{run_id}")
    for _ in range(100):
        row = await runner.row(run_id)
        if row.status == "running":
            break
        await asyncio.sleep(0.05)
    await handle.cancel()
    row = await runner.wait(run_id)
    assert row.status == "cancelled"
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.CANCELED


async def test_terminal_status_never_changes(runner):
    run_id = await runner.start('return 1')
    row = await runner.wait(run_id)
    assert row.status == "completed"
    from persistence.repository import finish_run

    async with runner.sessions() as session, session.begin():
        changed = await finish_run(session, run_id, status="failed", error={"type": "X", "message": "late"})
    assert changed is False
    assert (await runner.row(run_id)).status == "completed"


async def test_search_attributes_and_summary(runner):
    run_id = await runner.start("return 1")
    await runner.wait(run_id)
    description = await runner.client.get_workflow_handle(f"taskrun-{run_id}").describe()
    attributes = {pair.key.name: pair.value for pair in description.typed_search_attributes}
    assert attributes["CytasksTrigger"] == "adhoc"
    assert attributes["CytasksStatus"] == "completed"
    assert json.dumps(await description.static_summary()) == json.dumps("ad-hoc script")


async def test_cpu_heavy_script_is_spread_over_activations_and_bounded(runner):
    # About 10 seconds of pure computation: far past Temporal's 2-second limit for one
    # activation. The interpreter yields on durable timers, and the budget ends the run.
    script = 'r = range(1000)\ni = 0\nwhile (i < 99000) {\n  t = join(r, ",")\n  i += 1\n}\nreturn len(t)'
    row = await runner.wait(await runner.start(script), timeout=120)
    assert row.status == "failed"
    assert row.error["type"] == "RuntimeError"
    assert "operation budget" in row.error["message"]
    assert row.error["line"] == 4


async def test_long_loop_within_budget_completes(runner):
    script = 'total = 0\nfor (i in range(90000)) { total += len(join([i, i], "-")) }\nreturn total'
    row = await runner.wait(await runner.start(script), timeout=120)
    assert row.status == "completed", row.error
    assert row.output_inline == sum(len(f"{i}-{i}") for i in range(90000))


async def test_a_run_with_a_timeout_also_gets_a_temporal_execution_timeout(runner):
    """The backstop: should the workflow ever stop acting, Temporal still ends it."""
    run_id = await runner.start("return 1", timeout_seconds=5)
    description = await runner.client.get_workflow_handle(f"taskrun-{run_id}").describe()
    assert description.raw_description.execution_config.workflow_execution_timeout.seconds == 65
    assert (await runner.wait(run_id)).status == "completed"
