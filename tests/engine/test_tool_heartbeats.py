"""Tools heartbeat while they run and synchronous tools run off the worker's event loop."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

from activities.tools import ToolActivities
from integrations.registry import get_registry
from taskrun.contract import ToolInvocation, ToolResult

from .test_worker_restart import start_worker

pytestmark = pytest.mark.stack


@workflow.defn(name="HeartbeatProbeWorkflow", sandboxed=False)
class HeartbeatProbeWorkflow:
    """Calls one tool with a heartbeat timeout far shorter than the call, and no retry."""

    @workflow.run
    async def run(self, seconds: float) -> ToolResult:
        return await workflow.execute_activity(
            "app::test::busy",
            ToolInvocation(args=[seconds], kwargs={}, run_id="probe"),
            result_type=ToolResult,
            start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=1),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


async def test_a_tool_longer_than_its_heartbeat_timeout_succeeds(engine_worker, temporal_client):
    queue = f"heartbeat-probe-{uuid.uuid4()}"
    tools = ToolActivities(get_registry())
    async with Worker(temporal_client, task_queue=queue, workflows=[HeartbeatProbeWorkflow], activities=[tools.run_tool]):
        result = await temporal_client.execute_workflow(
            HeartbeatProbeWorkflow.run, 3.0, id=f"heartbeat-probe-{uuid.uuid4()}", task_queue=queue
        )
    assert result.value == "done"


async def test_a_blocking_tool_does_not_stall_other_runs(runner, tmp_path):
    release = tmp_path / "release"
    blocked = await runner.start("return app::test::wait_for_file(input)", str(release))
    deadline = time.monotonic() + 30
    while (await runner.row(blocked)).status != "running":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # let the blocking call start
    other = await runner.run('log("still serving")\nreturn 2')
    assert other.status == "completed", other.error
    assert (await runner.row(blocked)).status == "running"
    release.touch()
    row = await runner.wait(blocked)
    assert row.status == "completed", row.error
    assert row.output_inline == "released"


async def test_a_tool_in_flight_when_its_worker_dies_is_retried_within_the_heartbeat_timeout(runner, tmp_path):
    """The tool's own timeout is 300 s; the retry comes from the 20 s heartbeat timeout."""
    task_queue = f"cytasks-heartbeat-{uuid.uuid4().hex[:8]}"
    settings = runner.settings.model_copy(update={"TASK_QUEUE": task_queue})
    runner = type(runner)(runner.client, settings)
    calls = tmp_path / "calls.txt"
    first = start_worker(settings, task_queue)
    second = None
    try:
        run_id = await runner.start("return app::test::hang_first_call(input)", str(calls))
        for _ in range(600):
            if calls.exists() and calls.read_text().splitlines() == ["call"]:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the tool never ran")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        second = start_worker(settings, task_queue)
        row = await runner.wait(run_id, timeout=90)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
    assert row.status == "completed", row.error
    assert row.output_inline == 2
    assert calls.read_text().splitlines() == ["call", "call"]
