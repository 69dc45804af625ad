"""``max_concurrency`` on the real stack: runs of a task share its semaphore workflow."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from temporalio.api.enums.v1 import EventType

from workflows.concurrency import PATCH
from taskrun.contract import WAITING_FOR_SLOT, semaphore_id_for

pytestmark = pytest.mark.stack

SLEEPY = "sleep(input.seconds)\nreturn input.n"


def new_task() -> dict:
    task_id = str(uuid.uuid4())
    return {"task_id": task_id, "task_name": f"conc_{task_id[:8]}", "task_version": 1}


async def eventually(check, timeout: float = 30.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(interval)


def max_overlap(rows) -> int:
    """The most runs that were executing at one instant, from their recorded timings."""
    edges = sorted([(row.started_at, 1) for row in rows] + [(row.completed_at, -1) for row in rows])
    # At equal instants an end comes first (-1 < 1): a run starting as another ends does not overlap it.
    current = peak = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def longest_chain(rows) -> int:
    """The longest sequence of runs each of which started after the previous one completed."""
    ordered = sorted(rows, key=lambda row: row.started_at)
    chain = {}
    for row in ordered:
        before = [chain[other.id] for other in ordered if other.completed_at <= row.started_at]
        chain[row.id] = 1 + max(before, default=0)
    return max(chain.values())


async def start_all(runner, count: int, task: dict, limit: int, seconds: float) -> list[str]:
    return [
        await runner.start(SLEEPY, {"seconds": seconds, "n": n}, max_concurrency=limit, **task)
        for n in range(count)
    ]


def running(runner, run_id: str):
    async def check() -> bool:
        return (await runner.row(run_id)).status == "running"

    return check


async def slots(runner, task: dict) -> dict:
    return await runner.client.get_workflow_handle(semaphore_id_for(task["task_id"])).query("slots")


async def test_three_runs_with_limit_one_never_overlap(runner):
    task = new_task()
    run_ids = await start_all(runner, 3, task, limit=1, seconds=2)
    rows = [await runner.wait(run_id) for run_id in run_ids]
    assert [row.status for row in rows] == ["completed"] * 3
    ordered = sorted(rows, key=lambda row: row.started_at)
    for earlier, later in zip(ordered, ordered[1:]):
        assert later.started_at >= earlier.completed_at, (earlier, later)
    assert max_overlap(rows) == 1


async def test_ten_runs_with_limit_three_take_four_rounds(runner):
    task = new_task()
    run_ids = await start_all(runner, 10, task, limit=3, seconds=2)
    rows = [await runner.wait(run_id, timeout=120) for run_id in run_ids]
    assert [row.status for row in rows] == ["completed"] * 10
    assert max_overlap(rows) == 3
    assert longest_chain(rows) == 4
    assert await slots(runner, task) == {"task_id": task["task_id"], "limit": 3, "holders": [], "queue": []}


async def test_waiting_runs_start_in_the_order_they_were_requested(runner):
    task = new_task()
    first = await runner.start(SLEEPY, {"seconds": 2, "n": 0}, max_concurrency=1, **task)
    assert await eventually(running(runner, first))
    waiting = await start_all(runner, 4, task, limit=1, seconds=0.2)
    rows = [await runner.wait(run_id) for run_id in waiting]
    assert [row.status for row in rows] == ["completed"] * 4
    first_row = await runner.wait(first)
    assert all(row.started_at >= first_row.completed_at for row in rows)
    started = [row.started_at for row in rows]
    assert started == sorted(started)
    assert max_overlap(rows + [first_row]) == 1


async def test_a_waiting_run_is_pending_with_the_reason(runner):
    task = new_task()
    holder = await runner.start(SLEEPY, {"seconds": 3, "n": 0}, max_concurrency=1, **task)
    assert await eventually(running(runner, holder))
    waiter = await runner.start(SLEEPY, {"seconds": 0, "n": 1}, max_concurrency=1, **task)

    async def marked():
        row = await runner.row(waiter)
        return row if row.waiting_reason == WAITING_FOR_SLOT else None

    row = await eventually(marked)
    assert row is not None and row.status == "pending" and row.started_at is None
    assert (await runner.row(holder)).status == "running"
    state = await slots(runner, task)
    assert state["holders"] == [holder] and state["queue"] == [waiter]
    done = await runner.wait(waiter)
    assert done.status == "completed" and done.waiting_reason is None
    assert done.started_at >= (await runner.row(holder)).completed_at


async def test_cancelling_a_waiting_run_frees_nothing(runner):
    task = new_task()
    holder = await runner.start(SLEEPY, {"seconds": 3, "n": 0}, max_concurrency=1, **task)
    assert await eventually(running(runner, holder))
    cancelled = await runner.start(SLEEPY, {"seconds": 0, "n": 1}, max_concurrency=1, **task)
    last = await runner.start(SLEEPY, {"seconds": 0, "n": 2}, max_concurrency=1, **task)

    async def both_queued():
        return (await slots(runner, task))["queue"] == [cancelled, last]

    assert await eventually(both_queued)
    await runner.client.get_workflow_handle(f"taskrun-{cancelled}").cancel()
    row = await runner.wait(cancelled)
    assert row.status == "cancelled"
    assert "waited for a concurrency slot" in row.error["message"]
    assert (await slots(runner, task))["holders"] == [holder]
    assert (await runner.row(holder)).status == "running"
    assert (await runner.row(last)).status == "pending"
    holder_row, last_row = await runner.wait(holder), await runner.wait(last)
    assert holder_row.status == last_row.status == "completed"
    assert last_row.started_at >= holder_row.completed_at
    assert await slots(runner, task) == {"task_id": task["task_id"], "limit": 1, "holders": [], "queue": []}


async def test_a_terminated_holder_gives_its_slot_back(runner):
    task = new_task()
    holder = await runner.start(SLEEPY, {"seconds": 600, "n": 0}, max_concurrency=1, **task)
    assert await eventually(running(runner, holder))
    waiter = await runner.start(SLEEPY, {"seconds": 0, "n": 1}, max_concurrency=1, **task)

    async def queued():
        return (await slots(runner, task))["queue"] == [waiter]

    assert await eventually(queued)
    await runner.client.get_workflow_handle(f"taskrun-{holder}").terminate(reason="operator stop")
    row = await runner.wait(waiter, timeout=90)
    assert row.status == "completed"
    assert row.output_inline == 1


async def test_runs_without_a_limit_issue_no_extra_commands(runner):
    run_id = await runner.start(SLEEPY, {"seconds": 0, "n": 7}, **new_task())
    row = await runner.wait(run_id)
    assert row.status == "completed"
    events = [event async for event in runner.client.get_workflow_handle(f"taskrun-{run_id}").fetch_history_events()]
    markers = [event.SerializeToString() for event in events if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED]
    assert not any(PATCH.encode() in marker or b"request_slot" in marker for marker in markers)
    assert not any(event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED for event in events)


async def test_a_free_slot_is_granted_by_the_answer_to_the_request(runner):
    task = new_task()
    run_id = await runner.start(SLEEPY, {"seconds": 0, "n": 7}, max_concurrency=2, **task)
    row = await runner.wait(run_id)
    assert row.status == "completed"
    events = [event async for event in runner.client.get_workflow_handle(f"taskrun-{run_id}").fetch_history_events()]
    markers = [event.SerializeToString() for event in events if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED]
    assert any(b"request_slot" in marker for marker in markers) and any(b"release_slot" in marker for marker in markers)
    signals = [
        event.workflow_execution_signaled_event_attributes.signal_name
        for event in events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    assert signals == []  # only a run that had to wait is signalled


async def test_histories_of_gated_runs_replay(runner):
    from temporalio.worker import Replayer

    from worker import workflow_runner
    from workflows.concurrency import TaskConcurrencyWorkflow
    from workflows.task_run import TaskRunWorkflow

    task = new_task()
    first = await runner.start(SLEEPY, {"seconds": 1, "n": 0}, max_concurrency=1, **task)
    assert await eventually(running(runner, first))
    second = await runner.start(SLEEPY, {"seconds": 0, "n": 1}, max_concurrency=1, **task)
    assert (await runner.wait(second)).status == "completed"
    histories = [
        await runner.client.get_workflow_handle(workflow_id).fetch_history()
        for workflow_id in (f"taskrun-{first}", f"taskrun-{second}", semaphore_id_for(task["task_id"]))
    ]
    for sandboxed in (True, False):
        replayer = Replayer(
            workflows=[TaskRunWorkflow, TaskConcurrencyWorkflow], workflow_runner=workflow_runner(sandboxed)
        )
        for history in histories:
            result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
            assert result.replay_failure is None


async def test_the_semaphore_continues_as_new_with_its_queue(runner, monkeypatch):
    import workflows.concurrency

    monkeypatch.setattr(workflows.concurrency, "MAX_HISTORY_EVENTS", 20)
    task = new_task()
    run_ids = await start_all(runner, 6, task, limit=2, seconds=1)
    rows = [await runner.wait(run_id) for run_id in run_ids]
    assert [row.status for row in rows] == ["completed"] * 6
    assert max_overlap(rows) <= 2
    described = await runner.client.get_workflow_handle(semaphore_id_for(task["task_id"])).describe()
    execution = described.raw_description.workflow_execution_info
    assert execution.first_run_id != execution.execution.run_id  # it continued as new
    assert await slots(runner, task) == {"task_id": task["task_id"], "limit": 2, "holders": [], "queue": []}
