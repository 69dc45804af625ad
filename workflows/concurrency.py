"""``max_concurrency`` on Temporal: one semaphore workflow per task grants slots to runs.

A run of a task with a limit asks the semaphore ``taskslots-<task id>`` for a slot
(update-with-start, so the first run starts it). The update answers at once whether the slot
is granted; if not, the run waits, ``pending``, until the semaphore signals ``slot_granted``. The semaphore keeps its holders and its queue (ordered by the runs'
start time) in workflow state. A run gives its slot back when it ends; a holder that can no
longer do so (terminated, timed out by Temporal, deleted) is found out while others wait: the
semaphore describes its holders every ``HOLDER_CHECK`` and drops the closed ones, and a grant
that cannot be delivered drops its holder at once. Slots belong to workflows, not to worker
processes, so a crashed worker loses nothing.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, Awaitable, Callable

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.concurrency import ConcurrencyActivities
    from workflows import versions
    from taskrun.contract import (
        SEMAPHORE_WORKFLOW,
        SemaphoreState,
        SlotAnswer,
        SlotRelease,
        SlotRequest,
        TaskRunRequest,
    )

PATCH = "max-concurrency"
GRANTED_SIGNAL = "slot_granted"
HOLDER_CHECK = timedelta(seconds=10)
"""While runs wait, how often the semaphore checks that its holders are still running."""
IDLE_LINGER = timedelta(minutes=5)
"""An idle semaphore waits this long for the next request before it completes."""
MAX_HISTORY_EVENTS = 10_000
ACTIVITY_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(maximum_attempts=5)


def gated(request: TaskRunRequest) -> bool:
    """Whether this run waits for a slot. Runs of tasks without a limit issue no command."""
    return bool(request.max_concurrency and request.task_id) and versions.patched(PATCH)


class SlotGate:
    """The run's side of the semaphore: ask for a slot, wait for it, give it back."""

    def __init__(self) -> None:
        self.granted = False
        self.held = False
        self.on_pending_too_long: Callable[[list[str], float], Awaitable[None]] | None = None
        """Alerts the given alerts that the run has been pending this many seconds."""

    def grant(self) -> None:
        self.granted = True

    async def acquire(self, request: TaskRunRequest) -> None:
        # From here on the run gives back whatever it may hold, however it ends: a release of
        # a run that never got its slot only takes it out of the queue.
        self.held = True
        answer = await workflow.execute_local_activity_method(
            ConcurrencyActivities.request_slot,
            SlotRequest(
                task_id=str(request.task_id),
                holder=workflow.info().workflow_id,
                run_id=request.run_id,
                limit=int(request.max_concurrency or 1),
                requested_at=workflow.info().start_time,
                task_name=request.task_name,
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )
        if answer.granted if isinstance(answer, SlotAnswer) else answer:
            return
        alerts = answer.pending_alerts if isinstance(answer, SlotAnswer) else []
        if alerts and self.on_pending_too_long is not None and versions.patched("pending-alerts"):
            await self._wait_alerting(alerts)
        else:
            await workflow.wait_condition(lambda: self.granted)

    async def _wait_alerting(self, alerts: list[dict]) -> None:
        """Wait for the grant; each alert threshold passed meanwhile fires its alerts once."""
        asked = workflow.now()
        for seconds in sorted({alert["seconds"] for alert in alerts}):
            remaining = seconds - (workflow.now() - asked).total_seconds()
            try:
                await workflow.wait_condition(lambda: self.granted, timeout=max(remaining, 0.001))
                return
            except asyncio.TimeoutError:
                due = [alert["id"] for alert in alerts if alert["seconds"] == seconds]
                await self.on_pending_too_long(due, seconds)
        await workflow.wait_condition(lambda: self.granted)

    async def release(self, request: TaskRunRequest) -> None:
        if not self.held:
            return
        self.held = False
        try:
            await workflow.execute_local_activity_method(
                ConcurrencyActivities.release_slot,
                SlotRelease(task_id=str(request.task_id), holder=workflow.info().workflow_id),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
        except ActivityError as error:  # the semaphore's holder check takes the slot back
            workflow.logger.warning("run %s could not release its slot: %s", request.run_id, error)


@workflow.defn(name=SEMAPHORE_WORKFLOW)
class TaskConcurrencyWorkflow:
    """At most ``limit`` holders at once; the others wait in the queue, first come first served."""

    @workflow.init
    def __init__(self, state: SemaphoreState) -> None:
        self._state = state
        self._changed = True
        self._side_tasks: set[asyncio.Task] = set()

    @workflow.update
    def acquire(self, request: SlotRequest) -> bool:
        """Queue the request; True when it gets a slot at once (no signal follows then)."""
        state = self._state
        state.limit = max(1, int(request.limit))
        state.task_name = request.task_name or state.task_name
        if any(slot.holder == request.holder for slot in state.holders):
            return True
        if not state.queue and len(state.holders) < state.limit:
            # Granted in the answer; the main loop has nothing to do until a release.
            state.holders.append(request)
            return True
        if not any(slot.holder == request.holder for slot in state.queue):
            index = len(state.queue)
            while index > 0 and state.queue[index - 1].requested_at > request.requested_at:
                index -= 1
            state.queue.insert(index, request)
        self._changed = True
        return False

    @workflow.signal
    def release(self, release: SlotRelease) -> None:
        self._drop(release.holder)

    @workflow.query
    def slots(self) -> dict[str, Any]:
        state = self._state
        return {
            "task_id": state.task_id,
            "limit": state.limit,
            "holders": [slot.run_id for slot in state.holders],
            "queue": [slot.run_id for slot in state.queue],
        }

    def _drop(self, holder: str) -> None:
        state = self._state
        state.holders = [slot for slot in state.holders if slot.holder != holder]
        state.queue = [slot for slot in state.queue if slot.holder != holder]
        self._changed = True

    def _grant(self) -> list[SlotRequest]:
        state = self._state
        granted = []
        while state.queue and len(state.holders) < state.limit:
            slot = state.queue.pop(0)
            state.holders.append(slot)
            granted.append(slot)
        return granted

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def _notify(self, slot: SlotRequest) -> None:
        try:
            await workflow.get_external_workflow_handle(slot.holder).signal(GRANTED_SIGNAL)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the holder is gone: its slot goes to the next in line
            workflow.logger.info("slot of %s taken back: %s", slot.holder, error)
            self._drop(slot.holder)

    async def _drop_closed_holders(self) -> None:
        holders = [slot.holder for slot in self._state.holders]
        try:
            closed = await workflow.execute_local_activity_method(
                ConcurrencyActivities.closed_holders,
                holders,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
        except ActivityError as error:
            workflow.logger.warning("could not check the holders: %s", error)
            return
        for holder in closed:
            workflow.logger.info("holder %s ended without releasing its slot", holder)
            self._drop(holder)

    def _history_full(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > MAX_HISTORY_EVENTS

    def _quiet(self) -> bool:
        return not self._side_tasks and workflow.all_handlers_finished()

    @workflow.run
    async def run(self, state: SemaphoreState) -> None:
        state = self._state
        while True:
            self._changed = False
            for slot in self._grant():
                self._spawn(self._notify(slot))
            if self._history_full():
                await workflow.wait_condition(self._quiet)
                workflow.continue_as_new(state)
            if not state.holders and not state.queue:
                try:
                    await workflow.wait_condition(lambda: self._changed, timeout=IDLE_LINGER)
                except asyncio.TimeoutError:
                    await workflow.wait_condition(self._quiet)
                    if not state.holders and not state.queue:
                        return
            elif state.queue:
                try:
                    await workflow.wait_condition(lambda: self._changed, timeout=HOLDER_CHECK)
                except asyncio.TimeoutError:
                    await self._drop_closed_holders()
            else:
                await workflow.wait_condition(lambda: self._changed)
