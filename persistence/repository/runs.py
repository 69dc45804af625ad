"""Task runs and their logs. Every lookup by id also names the partition (the id's timestamp)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Text, and_, column, func, insert, literal, null, select, table, update
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.ids import created_at_from_run_id, new_run_id
from persistence.models import RUN_TRIGGERS, Task, TaskRun, TaskRunLog
from persistence.run_notifications import ended_notice
from persistence.repository import run_events
from persistence.repository.pagination import Page, before_cursor, clamp_limit, page_from_rows
from persistence.repository.rollups import record_finished_run
from persistence.repository.workflows import sync_workflow_run_pause
from taskrun.contract import ACTIVE_RUN_STATUSES, RUN_STATUSES, TERMINAL_RUN_STATUSES, workflow_id_for

_runs = TaskRun.__table__
_logs = TaskRunLog.__table__

# What reconciling rows with their workflows reads and writes (migration 0003); the ORM model
# does not map cancel_requested_at, so run resources are unchanged.
_watch = table(
    "task_runs",
    column("id", UUID(as_uuid=True)),
    column("created_at", DateTime(timezone=True)),
    column("status", Text),
    column("workflow_id", Text),
    column("cancel_requested_at", DateTime(timezone=True)),
)
QUERY_CANCELED = "57014"

LogLine = str | tuple[datetime, str]


class InvalidRunStatus(ValueError):
    pass


class RunQueryTooBroad(Exception):
    """A run listing ran past its time limit (settings.RUN_LIST_TIMEOUT_MS): its filters match
    too few runs to fill a page quickly. Narrow it with a time range (created_after/before)."""

    def __init__(self, timeout_ms: int) -> None:
        super().__init__(
            f"listing runs with these filters took longer than {timeout_ms} ms; narrow the query "
            "with created_after and created_before (a shorter time range), or a task"
        )
        self.timeout_ms = timeout_ms


def _by_id(run_id: uuid.UUID):
    return and_(_runs.c.id == run_id, _runs.c.created_at == created_at_from_run_id(run_id))


def _as_run_id(run_id: uuid.UUID | str) -> uuid.UUID:
    return run_id if isinstance(run_id, uuid.UUID) else uuid.UUID(str(run_id))


async def create_run(
    session: AsyncSession,
    *,
    trigger: str,
    task_id: uuid.UUID | None = None,
    task_version: int | None = None,
    cy_script: str | None = None,
    input_storage: str = "inline",
    input_inline: Any = None,
    input_ref: str | None = None,
    run_id: uuid.UUID | None = None,
    status: str = "pending",
    workflow_id: str | None = None,
    scheduled_time: datetime | None = None,
    parent_workflow_run_id: str | None = None,
    workflow_node_instance_id: str | None = None,
    created_by: str | None = None,
) -> TaskRun:
    """Insert a run. `run_id` (a UUIDv7, made here when absent) fixes created_at; the workflow id
    defaults to `taskrun-<run id>`."""
    if trigger not in RUN_TRIGGERS:
        raise ValueError(f"unknown trigger {trigger!r}")
    run_id = run_id or new_run_id()
    values = {
        "id": run_id,
        "created_at": created_at_from_run_id(run_id),
        "task_id": task_id,
        "task_version": task_version,
        "cy_script": cy_script,
        "status": status,
        "trigger": trigger,
        "input_storage": input_storage,
        "input_inline": input_inline if input_storage == "inline" else null(),
        "input_ref": input_ref,
        "workflow_id": workflow_id or workflow_id_for(run_id),
        "scheduled_time": scheduled_time,
        "parent_workflow_run_id": parent_workflow_run_id,
        "workflow_node_instance_id": workflow_node_instance_id,
        "created_by": created_by,
    }
    result = await session.execute(insert(TaskRun).values(**values).returning(TaskRun, _task_name(task_id)))
    run, task_name = result.one()
    run_events.queue(session, run_events.RunCreated(task_name, trigger))
    return run


def _task_name(task_id):
    """The cy_name of the run's task (a column or a value), returned with the row (for the run
    events)."""
    return select(Task.cy_name).where(Task.id == task_id).correlate_except(Task).scalar_subquery()


async def get_run(session: AsyncSession, run_id: uuid.UUID | str) -> TaskRun | None:
    try:
        run_id = _as_run_id(run_id)
        created_at = created_at_from_run_id(run_id)
    except ValueError:
        return None
    statement = select(TaskRun).where(TaskRun.id == run_id, TaskRun.created_at == created_at)
    return (await session.execute(statement.execution_options(populate_existing=True))).scalar_one_or_none()


async def list_runs(
    session: AsyncSession,
    *,
    task_id: uuid.UUID | None = None,
    status: str | Sequence[str] | None = None,
    trigger: str | Sequence[str] | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    cursor: str | None = None,
    limit: int | None = 50,
    timeout_ms: int | None = None,
) -> Page[TaskRun]:
    """Newest first, keyset-paginated on (created_at, id). Time bounds: created_after is
    inclusive, created_before exclusive; both prune partitions.

    A listing taking longer than `timeout_ms` (default settings.RUN_LIST_TIMEOUT_MS) is
    cancelled by the server and raises RunQueryTooBroad; the transaction is then unusable."""
    limit = clamp_limit(limit)
    statement = select(TaskRun)
    if task_id is not None:
        statement = statement.where(TaskRun.task_id == task_id)
    if status:
        statuses = [status] if isinstance(status, str) else list(status)
        statement = statement.where(TaskRun.status.in_(statuses))
    if trigger:
        triggers = [trigger] if isinstance(trigger, str) else list(trigger)
        statement = statement.where(TaskRun.trigger.in_(triggers))
    if created_after is not None:
        statement = statement.where(TaskRun.created_at >= created_after)
    if created_before is not None:
        statement = statement.where(TaskRun.created_at < created_before)
    if cursor:
        statement = statement.where(before_cursor(TaskRun.created_at, TaskRun.id, cursor))
    statement = statement.order_by(TaskRun.created_at.desc(), TaskRun.id.desc()).limit(limit + 1)
    rows = list(await _list_rows(session, statement, _list_timeout_ms() if timeout_ms is None else timeout_ms))
    return page_from_rows(rows, limit)


def _list_timeout_ms() -> int:
    from settings import get_settings

    return get_settings().RUN_LIST_TIMEOUT_MS


def _listing_settings() -> dict[str, str]:
    # By default a listing's plan is reused (generic) rather than made anew for its parameters:
    # planning across ~100 partitions costs more than running the query, and without a DEFAULT
    # partition the generic plan still reads partitions in order and prunes them as it starts.
    from settings import get_settings

    return {"plan_cache_mode": get_settings().RUN_LIST_PLAN_CACHE_MODE}


async def _list_rows(session: AsyncSession, statement, timeout_ms: int):
    """Run `statement` under the listing's plan_cache_mode and a statement_timeout of `timeout_ms`
    (0: the connection's own), local to the transaction and restored afterwards;
    RunQueryTooBroad when the timeout cancels it."""
    wanted = _listing_settings()
    if timeout_ms:
        wanted["statement_timeout"] = f"{timeout_ms}ms"
    names = list(wanted)
    swap = select(
        *(func.current_setting(name) for name in names),
        *(func.set_config(name, value, True) for name, value in wanted.items()),
    )
    previous = (await session.execute(swap)).one()[: len(names)]
    try:
        rows = (await session.execute(statement)).scalars().all()
    except DBAPIError as error:
        cancelled = getattr(error.orig, "sqlstate", None) == QUERY_CANCELED or "statement timeout" in str(error.orig)
        if timeout_ms and cancelled:
            raise RunQueryTooBroad(timeout_ms) from error
        raise
    await session.execute(select(*(func.set_config(name, value, True) for name, value in zip(names, previous))))
    return rows


async def mark_run_running(
    session: AsyncSession,
    run_id: uuid.UUID | str,
    *,
    started_at: datetime | None = None,
    workflow_run_id: str | None = None,
    only_pending: bool = False,
) -> bool:
    """pending/paused -> running (``only_pending``: pending only). Keeps the first started_at.
    False when the run is terminal (or, ``only_pending``, past pending)."""
    run_id = _as_run_id(run_id)
    values: dict[str, Any] = {
        "status": "running",
        "started_at": func.coalesce(_runs.c.started_at, started_at or func.now()),
    }
    if workflow_run_id is not None:
        values["workflow_run_id"] = workflow_run_id
    values["waiting_reason"] = None
    statement = (
        update(_runs)
        .where(_by_id(run_id), _runs.c.status.in_(("pending",) if only_pending else ("pending", "running", "paused")))
        .values(**values)
        .returning(_runs.c.parent_workflow_run_id)
    )
    updated = (await session.execute(statement)).all()
    if updated and updated[0][0]:
        await sync_workflow_run_pause(session, updated[0][0])
    return bool(updated)


async def mark_runs_waiting(session: AsyncSession, run_ids: Iterable[uuid.UUID | str], reason: str) -> int:
    """Record why pending runs have not started yet; runs no longer pending are left alone."""
    ids = [_as_run_id(run_id) for run_id in run_ids]
    if not ids:
        return 0
    statement = (
        update(_runs)
        .where(_runs.c.id.in_(ids), _runs.c.status == "pending")
        .values(waiting_reason=reason)
    )
    return (await session.execute(statement)).rowcount


async def set_run_status(session: AsyncSession, run_id: uuid.UUID | str, status: str) -> bool:
    """Move a non-terminal run to another non-terminal status (running <-> paused)."""
    if status not in ACTIVE_RUN_STATUSES:
        raise InvalidRunStatus(f"{status!r} is not a non-terminal status; use finish_run")
    statement = (
        update(_runs)
        .where(_by_id(_as_run_id(run_id)), _runs.c.status.in_(ACTIVE_RUN_STATUSES))
        .values(status=status)
        .returning(_runs.c.parent_workflow_run_id)
    )
    updated = (await session.execute(statement)).all()
    if updated and updated[0][0]:
        await sync_workflow_run_pause(session, updated[0][0])
    return bool(updated)


async def set_run_workflow(
    session: AsyncSession, run_id: uuid.UUID | str, *, workflow_id: str, workflow_run_id: str | None
) -> bool:
    statement = (
        update(_runs)
        .where(_by_id(_as_run_id(run_id)))
        .values(workflow_id=workflow_id, workflow_run_id=workflow_run_id)
    )
    return (await session.execute(statement)).rowcount == 1


async def finish_run(
    session: AsyncSession,
    run_id: uuid.UUID | str,
    *,
    status: str,
    output_storage: str | None = None,
    output_inline: Any = None,
    output_ref: str | None = None,
    error: dict[str, Any] | None = None,
    logs: Iterable[LogLine] = (),
    started_at: datetime | None = None,
    completed_at: datetime | None = None,
    duration_ms: int | None = None,
    llm_usage: dict[str, Any] | None = None,
    workflow_run_id: str | None = None,
) -> bool:
    """Record a terminal status with its output (already stored), error, logs, timings and usage,
    and count the run into its rollups (persistence/repository/rollups.py) in the same transaction.
    ``workflow_run_id`` (the Temporal run's) is recorded when given, for a run whose start was not.

    A run already terminal is left untouched (and its logs are not appended): returns False."""
    if status not in TERMINAL_RUN_STATUSES:
        raise InvalidRunStatus(f"{status!r} is not a terminal status")
    run_id = _as_run_id(run_id)
    completed = completed_at or datetime.now(UTC)
    start = func.coalesce(_runs.c.started_at, started_at, _runs.c.created_at)
    log_lines = _normalize_logs(logs, completed)
    values: dict[str, Any] = {
        "status": status,
        "output_storage": output_storage,
        "output_inline": output_inline if output_storage == "inline" else null(),
        "output_ref": output_ref,
        "error": error,
        "llm_usage": llm_usage,
        "started_at": start,
        "completed_at": completed,
        "duration_ms": duration_ms
        if duration_ms is not None
        else func.greatest(
            0, func.floor(func.extract("epoch", literal(completed) - start) * 1000)
        ).cast(_runs.c.duration_ms.type),
        "logs_count": _runs.c.logs_count + len(log_lines),
    }
    if workflow_run_id is not None:
        values["workflow_run_id"] = workflow_run_id
    statement = (
        update(_runs)
        .where(_by_id(run_id), _runs.c.status.notin_(TERMINAL_RUN_STATUSES))
        .values(**values)
        .returning(
            _runs.c.logs_count,
            _runs.c.task_id,
            _runs.c.trigger,
            _runs.c.duration_ms,
            _task_name(_runs.c.task_id),
            ended_notice("task", run_id),
        )
    )
    finished = (await session.execute(statement)).one_or_none()
    if finished is None:
        return False
    logs_count, task_id, trigger, stored_duration_ms, task_name, _ = finished
    run_events.queue(session, run_events.RunFinished(task_name, status, trigger, stored_duration_ms))
    if log_lines:
        await _insert_logs(session, run_id, logs_count - len(log_lines), log_lines)
    await record_finished_run(
        session,
        run_id=run_id,
        task_id=task_id,
        status=status,
        trigger=trigger,
        completed_at=completed,
        duration_ms=stored_duration_ms,
        llm_usage=llm_usage,
        error=error,
    )
    return True


def _normalize_logs(logs: Iterable[LogLine], default_ts: datetime) -> list[tuple[datetime, str]]:
    lines = []
    for line in logs:
        if isinstance(line, str):
            lines.append((default_ts, line))
        else:
            ts, message = line
            lines.append((ts, str(message)))
    return lines


async def _insert_logs(
    session: AsyncSession, run_id: uuid.UUID, first_seq_minus_one: int, lines: list[tuple[datetime, str]]
) -> None:
    run_created_at = created_at_from_run_id(run_id)
    await session.execute(
        insert(_logs),
        [
            {
                "run_id": run_id,
                "run_created_at": run_created_at,
                "seq": first_seq_minus_one + index,
                "ts": ts,
                "message": message,
            }
            for index, (ts, message) in enumerate(lines, start=1)
        ],
    )


async def append_logs(session: AsyncSession, run_id: uuid.UUID | str, logs: Iterable[LogLine]) -> int:
    """Append log lines (numbered from 1 in order of arrival); returns the run's new logs_count.
    Returns -1 when the run does not exist."""
    run_id = _as_run_id(run_id)
    lines = _normalize_logs(logs, datetime.now(UTC))
    if not lines:
        run = await get_run(session, run_id)
        return run.logs_count if run is not None else -1
    statement = (
        update(_runs)
        .where(_by_id(run_id))
        .values(logs_count=_runs.c.logs_count + len(lines))
        .returning(_runs.c.logs_count)
    )
    logs_count = (await session.execute(statement)).scalar_one_or_none()
    if logs_count is None:
        return -1
    await _insert_logs(session, run_id, logs_count - len(lines), lines)
    return logs_count


async def get_logs(
    session: AsyncSession, run_id: uuid.UUID | str, *, after_seq: int = 0, limit: int | None = None
) -> list[TaskRunLog]:
    run_id = _as_run_id(run_id)
    statement = (
        select(TaskRunLog)
        .where(
            TaskRunLog.run_id == run_id,
            TaskRunLog.run_created_at == created_at_from_run_id(run_id),
            TaskRunLog.seq > after_seq,
        )
        .order_by(TaskRunLog.seq)
    )
    if limit is not None:
        statement = statement.limit(limit)
    return list((await session.execute(statement)).scalars())


async def list_stale_pending_runs(
    session: AsyncSession, older_than: timedelta, *, limit: int = 100
) -> list[TaskRun]:
    """Runs still pending after `older_than`: candidates whose workflow may never have started."""
    cutoff = datetime.now(UTC) - older_than
    statement = (
        select(TaskRun)
        .where(TaskRun.status == "pending", TaskRun.created_at < cutoff)
        .order_by(TaskRun.created_at)
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())


@dataclass(frozen=True)
class ActiveRun:
    """A non-terminal run as the watcher sees it."""

    id: str
    status: str
    workflow_id: str | None
    cancel_requested_at: datetime | None

    @property
    def cancel_requested(self) -> bool:
        return self.cancel_requested_at is not None


def _active_runs(statement) -> Any:
    return statement.where(_watch.c.status.in_(ACTIVE_RUN_STATUSES))


async def _fetch_active(session: AsyncSession, statement) -> list[ActiveRun]:
    rows = (await session.execute(statement)).all()
    return [ActiveRun(str(row.id), row.status, row.workflow_id, row.cancel_requested_at) for row in rows]


_ACTIVE_COLUMNS = (_watch.c.id, _watch.c.status, _watch.c.workflow_id, _watch.c.cancel_requested_at)


async def request_cancel(session: AsyncSession, run_id: uuid.UUID | str) -> datetime | None:
    """Record that the run was asked to cancel (the first request counts). None when the run is
    terminal or unknown."""
    run_id = _as_run_id(run_id)
    statement = (
        update(_watch)
        .where(_watch.c.id == run_id, _watch.c.created_at == created_at_from_run_id(run_id))
        .where(_watch.c.status.in_(ACTIVE_RUN_STATUSES))
        .values(cancel_requested_at=func.coalesce(_watch.c.cancel_requested_at, func.now()))
        .returning(_watch.c.cancel_requested_at)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def get_active_run(session: AsyncSession, run_id: uuid.UUID | str) -> ActiveRun | None:
    """The run when it is not terminal, with its cancel request."""
    run_id = _as_run_id(run_id)
    statement = _active_runs(
        select(*_ACTIVE_COLUMNS).where(
            _watch.c.id == run_id, _watch.c.created_at == created_at_from_run_id(run_id)
        )
    )
    found = await _fetch_active(session, statement)
    return found[0] if found else None


async def list_active_runs_of_workflows(
    session: AsyncSession, workflow_ids: Sequence[str]
) -> list[ActiveRun]:
    """Non-terminal runs whose workflow id is one of ``workflow_ids``."""
    if not workflow_ids:
        return []
    statement = _active_runs(select(*_ACTIVE_COLUMNS).where(_watch.c.workflow_id.in_(list(workflow_ids))))
    return await _fetch_active(session, statement)


async def list_overdue_cancels(
    session: AsyncSession, grace: timedelta, *, limit: int = 100
) -> list[ActiveRun]:
    """Non-terminal runs asked to cancel more than ``grace`` ago, oldest request first."""
    cutoff = datetime.now(UTC) - grace
    statement = (
        _active_runs(select(*_ACTIVE_COLUMNS))
        .where(_watch.c.cancel_requested_at < cutoff)
        .order_by(_watch.c.cancel_requested_at)
        .limit(limit)
    )
    return await _fetch_active(session, statement)


async def sample_active_runs(
    session: AsyncSession, older_than: timedelta, *, limit: int = 50
) -> list[ActiveRun]:
    """A random sample of non-terminal runs created before ``older_than`` ago: repeated passes
    cover them all, however many there are, with bounded work per pass."""
    cutoff = datetime.now(UTC) - older_than
    statement = (
        _active_runs(select(*_ACTIVE_COLUMNS))
        .where(_watch.c.created_at < cutoff, _watch.c.workflow_id.is_not(None))
        .order_by(func.random())
        .limit(limit)
    )
    return await _fetch_active(session, statement)


__all__ = [
    "RUN_STATUSES",
    "TERMINAL_RUN_STATUSES",
    "ActiveRun",
    "InvalidRunStatus",
    "RunQueryTooBroad",
    "append_logs",
    "create_run",
    "finish_run",
    "get_logs",
    "get_active_run",
    "get_run",
    "list_active_runs_of_workflows",
    "list_overdue_cancels",
    "list_runs",
    "list_stale_pending_runs",
    "mark_run_running",
    "request_cancel",
    "sample_active_runs",
    "set_run_status",
    "set_run_workflow",
    "workflow_id_for",
]


async def last_runs(session: AsyncSession, task_ids: list[uuid.UUID]) -> dict[uuid.UUID, TaskRun]:
    """Each task's newest run (one index probe per task)."""
    if not task_ids:
        return {}
    latest: dict[uuid.UUID, TaskRun] = {}
    for task_id in task_ids:
        statement = (
            select(TaskRun).where(TaskRun.task_id == task_id).order_by(TaskRun.created_at.desc(), TaskRun.id.desc()).limit(1)
        )
        run = (await session.execute(statement)).scalar_one_or_none()
        if run is not None:
            latest[task_id] = run
    return latest
