"""The activities of the per-task concurrency gate: asking a task's semaphore for a slot,
giving it back, recording that a run waits, and telling which holders have ended."""

from __future__ import annotations

import logging

from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from persistence.db import get_sessionmaker
from persistence.repository.runs import mark_runs_waiting
from settings import Settings
from workflows.types import (
    SEMAPHORE_WORKFLOW,
    WAITING_FOR_SLOT,
    SemaphoreState,
    SlotRelease,
    SlotRequest,
    semaphore_id_for,
)

log = logging.getLogger("cytasks.concurrency")

ALIVE = (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.CONTINUED_AS_NEW)


class ConcurrencyActivities:
    def __init__(self, settings: Settings) -> None:
        self.sessions = get_sessionmaker(settings.DATABASE_URL)

    @activity.defn
    async def request_slot(self, request: SlotRequest) -> None:
        """Queue the run at its task's semaphore, starting the semaphore if it is not running."""
        await activity.client().start_workflow(
            SEMAPHORE_WORKFLOW,
            SemaphoreState(task_id=request.task_id, limit=request.limit, task_name=request.task_name),
            id=semaphore_id_for(request.task_id),
            task_queue=activity.info().task_queue,
            start_signal="acquire",
            start_signal_args=[request],
            static_summary=f"Concurrency slots of {request.task_name or request.task_id}",
        )

    @activity.defn
    async def release_slot(self, release: SlotRelease) -> None:
        """Give the slot back (or leave the queue). A semaphore that is gone holds nothing."""
        handle = activity.client().get_workflow_handle(semaphore_id_for(release.task_id))
        try:
            await handle.signal("release", release)
        except RPCError as error:
            if error.status.name != "NOT_FOUND":
                raise

    @activity.defn
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

    @activity.defn
    async def mark_waiting(self, run_ids: list[str]) -> int:
        """Record on the runs' rows that they wait for a slot (shown on the run resource)."""
        async with self.sessions() as session, session.begin():
            return await mark_runs_waiting(session, run_ids, WAITING_FOR_SLOT)
