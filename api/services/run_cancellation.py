"""Cancelling a run: who may, which runs still can be, and the request recorded and sent on."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import TERMINAL_RUN_STATUSES, TaskRun

from ..authz import Permission, forbidden, may_cancel
from ..problems import ProblemError
from ..state import AppState, Principal
from . import run_reconciliation
from .auditing import audit
from .run_history import load_run


async def cancel_run(state: AppState, session: AsyncSession, principal: Principal, run_id: str) -> TaskRun:
    """Ask the run to cancel (it ends `cancelled`); 403 for another key's run unless admin,
    409 when it has already ended. Returns the row."""
    run = await load_run(session, run_id)
    if not may_cancel(principal, run):
        raise forbidden(
            principal,
            Permission.RUNS_CANCEL,
            f"API key '{principal.name}' may cancel only the runs it started; run {run.id} was "
            f"started by {run.created_by or 'someone else'} (an admin may cancel any run)",
        )
    if run.status in TERMINAL_RUN_STATUSES:
        raise ProblemError(
            409,
            "run-not-cancellable",
            f"Run {run.id} is already {run.status}",
            run_status=run.status,
        )
    await audit(session, "run.cancel", "run", run.id, details={"status": run.status})
    await session.commit()
    return await run_reconciliation.cancel_run(state, session, run)
