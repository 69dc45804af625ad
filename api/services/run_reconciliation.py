"""Rows brought in line with Temporal from the API: on read, and when a run is cancelled.

A workflow records its run's end itself; one closed from outside (terminated, timed out,
reset, cancelled in Temporal) never does, so a read of a non-terminal row asks Temporal.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import TERMINAL_RUN_STATUSES, TaskRun
from persistence.repository import runs as run_repo
from taskrun.contract import run_error
from taskrun.outcome import WorkflowOutcome
from taskrun.contract import workflow_id_for

from ..problems import ProblemError
from ..state import AppState
from . import runs as run_engine

logger = logging.getLogger(__name__)

DESCRIBE_TIMEOUT_SECONDS = 2.0
CANCELLED_BEFORE_START = run_error("Cancelled", "The run was cancelled before it started")


async def _outcome(state: AppState, workflow_id: str, cancel_requested: bool) -> WorkflowOutcome:
    async def ask() -> WorkflowOutcome:
        client = await state.temporal_client()
        return await run_engine.workflow_outcome(client, workflow_id, cancel_requested=cancel_requested)

    return await asyncio.wait_for(ask(), DESCRIBE_TIMEOUT_SECONDS)


async def _record(session: AsyncSession, run_id: uuid.UUID, outcome: WorkflowOutcome) -> None:
    if await run_repo.finish_run(
        session, run_id, status=outcome.status, error=outcome.error, completed_at=outcome.closed_at
    ):
        logger.info("run %s: its workflow had closed (%s)", run_id, outcome.error["type"])
    await session.commit()


async def reconcile_run(state: AppState, session: AsyncSession, run: TaskRun) -> TaskRun:
    """The row, reconciled first when it is not terminal and its workflow has closed. Temporal
    being slow or down never fails the read: the row is then answered as it is."""
    if run.status in TERMINAL_RUN_STATUSES or not run.workflow_id:
        return run
    active = await run_repo.get_active_run(session, run.id)
    if active is None:
        return await run_repo.get_run(session, run.id)
    try:
        outcome = await _outcome(state, run.workflow_id, active.cancel_requested)
    except Exception as error:
        logger.debug("could not ask Temporal about run %s: %r", run.id, error)
        return run
    if not outcome.closed:
        return run
    await _record(session, run.id, outcome)
    return await run_repo.get_run(session, run.id)


async def cancel_run(state: AppState, session: AsyncSession, run: TaskRun) -> TaskRun:
    """Ask the run's workflow to cancel and record the request: a workflow that does not close
    within the grace period is terminated by the run watcher. Returns the row."""
    workflow_id = run.workflow_id or workflow_id_for(str(run.id))
    try:
        client = await state.temporal_client()
        delivered = await run_engine.cancel_run(client, str(run.id), workflow_id)
        outcome = None
        if not delivered:
            outcome = await run_engine.workflow_outcome(client, workflow_id, cancel_requested=True)
    except Exception as error:
        raise ProblemError(
            503, "service-unavailable", f"Temporal did not accept the cancellation: {type(error).__name__}"
        ) from error
    if delivered:
        await run_repo.request_cancel(session, run.id)
        await session.commit()
    elif outcome.closed:
        await _record(session, run.id, outcome)
    else:
        # No workflow to cancel (it never started): the run ends here.
        await run_repo.finish_run(session, run.id, status="cancelled", error=CANCELLED_BEFORE_START)
        await session.commit()
    return await run_repo.get_run(session, run.id)
