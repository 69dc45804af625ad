"""The activities of the per-task concurrency gate: asking a task's semaphore for a slot
(recording the run as waiting when there is none), giving it back, and telling which
holders have ended."""

from __future__ import annotations

import logging

from temporalio import activity
from temporalio.client import WithStartWorkflowOperation, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from persistence.db import get_sessionmaker
from persistence.repository.events import pending_alerts_of
from persistence.repository.runs import mark_runs_waiting
from settings import Settings
from taskrun.contract import (
    SEMAPHORE_WORKFLOW,
    WAITING_FOR_SLOT,
    SemaphoreState,
    SlotAnswer,
    SlotRelease,
    SlotRequest,
    semaphore_id_for,
)

logger = logging.getLogger(__name__)

ALIVE = (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.CONTINUED_AS_NEW)


class ConcurrencyActivities:
    def __init__(self, settings: Settings) -> None:
        self.sessions = get_sessionmaker(settings.DATABASE_URL)

    @activity.defn(name="request_slot")
    async def request_slot(self, request: SlotRequest) -> SlotAnswer | bool:
        """Ask the task's semaphore (started if it is not running) for a slot. True: granted at
        once. False: the run is queued and recorded as waiting; ``slot_granted`` comes later."""
        start = WithStartWorkflowOperation(
            SEMAPHORE_WORKFLOW,
            SemaphoreState(task_id=request.task_id, limit=request.limit, task_name=request.task_name),
            id=semaphore_id_for(request.task_id),
            task_queue=activity.info().task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary=f"Concurrency slots of {request.task_name or request.task_id}",
        )
        granted = await activity.client().execute_update_with_start_workflow(
            "acquire", request, start_workflow_operation=start, result_type=bool
        )
        if not granted:
            # The grant cannot overtake this: the run reads its signal only after this returns.
            async with self.sessions() as session, session.begin():
                await mark_runs_waiting(session, [request.run_id], WAITING_FOR_SLOT)
                alerts = await pending_alerts_of(session, request.task_id)
            if alerts:
                return SlotAnswer(granted=False, pending_alerts=alerts)
        return granted

    @activity.defn(name="release_slot")
    async def release_slot(self, release: SlotRelease) -> None:
        """Give the slot back (or leave the queue). A semaphore that is gone holds nothing."""
        handle = activity.client().get_workflow_handle(semaphore_id_for(release.task_id))
        try:
            await handle.signal("release", release)
        except RPCError as error:
            if error.status.name != "NOT_FOUND":
                raise

    @activity.defn(name="closed_holders")
    async def closed_holders(self, holders: list[str]) -> list[str]:
        """The holders (workflow ids) whose workflow is no longer running: they can never
        give their slot back themselves (terminated, timed out, or gone)."""
        client = activity.client()
        closed = []
        for holder in holders:
            try:
                description = await client.get_workflow_handle(holder).describe()
            except RPCError as error:
                if error.status.name != "NOT_FOUND":
                    raise
                closed.append(holder)
                continue
            if description.status not in ALIVE:
                closed.append(holder)
        return closed
