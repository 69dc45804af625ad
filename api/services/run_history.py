"""Reading runs: one by id (reconciled with Temporal, optionally waiting for its end), a
filtered page of them, and a run's log lines."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import TERMINAL_RUN_STATUSES, TaskRun, TaskRunLog
from persistence.repository import runs as run_repo
from persistence.repository import tasks as task_repo
from persistence.repository.pagination import InvalidCursor, Page
from persistence.repository.runs import RunQueryTooBroad

from ..authz import Permission, forbidden, sees_payloads
from ..problems import ProblemError, invalid_cursor, run_not_found
from ..state import AppState, Principal
from . import run_reconciliation
from . import runs as run_engine
from .task_lookup import task_filter


async def load_run(session: AsyncSession, run_id: str) -> TaskRun:
    """The run with this id; 404 when there is none."""
    run = await run_repo.get_run(session, run_id)
    if run is None:
        raise run_not_found(run_id)
    return run


async def read_run(state: AppState, session: AsyncSession, run_id: str, wait: float) -> TaskRun:
    """The run, reconciled with its workflow; with ``wait``, once it has ended or ``wait``
    seconds have passed (the database connection is given back meanwhile). A run about to be
    waited on is reconciled after the wait (a workflow that closed without recording the end
    ends the wait, within ``run_engine.NOTICE_GRACE_SECONDS``): asking Temporal first would cost
    every long poll a round trip."""
    with run_engine.watching(state.run_ends if wait else None, "task", run_id) as ended:
        run = await load_run(session, run_id)
        if not wait or run.status in TERMINAL_RUN_STATUSES or not run.workflow_id:
            return await run_reconciliation.reconcile_run(state, session, run)

        async def read() -> TaskRun:
            return await run_reconciliation.reconcile_run(state, session, await run_repo.get_run(session, run_id))

        return await run_engine.wait_for_end(state.run_ends, ended, state.temporal_client, run.workflow_id, wait, session, read)


async def list_runs(
    session: AsyncSession,
    *,
    task: str | None,
    status: str | None,
    trigger: str | None,
    created_after: datetime | None,
    created_before: datetime | None,
    cursor: str | None,
    limit: int,
) -> Page[TaskRun]:
    """Runs newest first; an empty page when ``task`` names no task."""
    known, task_uuid = await task_filter(session, task)
    if not known:
        return Page(items=[], next_cursor=None)
    try:
        return await run_repo.list_runs(
            session,
            task_id=task_uuid,
            status=status,
            trigger=trigger,
            created_after=created_after,
            created_before=created_before,
            cursor=cursor,
            limit=limit,
        )
    except InvalidCursor as error:
        raise invalid_cursor(error) from error
    except RunQueryTooBroad as error:
        raise ProblemError(
            422,
            "query-too-broad",
            str(error),
            errors=[{"field": "created_after", "in": "query", "message": "narrow the listing with a time range or a task"}],
        ) from error


async def run_logs(
    session: AsyncSession, principal: Principal, run_id: str, *, after_seq: int, limit: int | None
) -> tuple[TaskRun, list[TaskRunLog]]:
    """The run and its log lines after ``after_seq``, for a caller who may read its payloads."""
    run = await load_run(session, run_id)
    if not sees_payloads(principal, run):
        raise forbidden(
            principal,
            Permission.RUNS_PAYLOADS,
            f"API key '{principal.name}' may not read the logs of run {run.id}: that needs the payloads role "
            "(or being the runner that started it)",
        )
    lines = await run_repo.get_logs(session, run.id, after_seq=after_seq, limit=limit)
    return run, lines


async def run_script(session: AsyncSession, run: TaskRun) -> str | None:
    """The Cy script the run ran: its own (ad hoc) or its task version's."""
    if run.cy_script is not None:
        return run.cy_script
    if run.task_id is None or run.task_version is None:
        return None
    version = await task_repo.get_version(session, run.task_id, run.task_version)
    return version.script if version is not None else None


async def tool_calls(state: AppState, run: TaskRun) -> tuple[list[dict[str, Any]], str | None]:
    """The run's tool calls in order, read from its workflow history (``runs.tool_calls_in_history``),
    and None; or no calls and why the history could not be read."""
    if not run.workflow_id:
        return [], "This run has no workflow (it never started)."
    try:
        return await run_engine.tool_calls(state.temporal_client, run.workflow_id, state.registry or ()), None
    except run_engine.ToolCallsUnavailable as error:
        return [], f"The tool calls cannot be shown: {error}."


def temporal_ui_link(state: AppState, workflow_id: str | None) -> str | None:
    """The run's workflow in the Temporal UI (``TEMPORAL_UI_URL``); None when that is not set."""
    base = state.settings.TEMPORAL_UI_URL.strip().rstrip("/")
    if not base or not workflow_id:
        return None
    return f"{base}/namespaces/{quote(state.settings.TEMPORAL_NAMESPACE, safe='')}/workflows/{quote(workflow_id, safe='')}"
