"""A task's schedule: stored on the task row, run by a Temporal Schedule.

Every change is written to the task row first (committed, so a fire that follows at once finds
it), then to Temporal; when Temporal refuses or cannot be reached the row is put back and the
error answered. Changes to one task's schedule are serialized by an advisory lock. Whatever
still drifts is repaired by the reconciliation run at API and worker start.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import ScheduleActionResult, ScheduleDescription

from persistence.models import Task, TaskRun
from persistence.repository import schedules as schedule_repo
from persistence.repository import tasks as task_repo
from persistence.repository.pagination import InvalidCursor, Page
from schedules import ScheduleSpec, ScheduleSpecError, validate_spec
from schedules import service as schedule_service
from schedules.service import ReconcileReport
from schedules.spec import MAX_BACKFILL_RECORDS, time_range_errors
from schedules.temporal import action_fingerprint, build_schedule, pause_state, schedule_id_for

from taskrun.search_attributes import search_attributes_registered

from ..problems import ProblemError, invalid_cursor, not_found, task_not_found
from ..state import AppState
from .auditing import audit
from .schema_checks import validate_input_off_loop
from .task_versions import pinned_version
from .task_lookup import ensure_runnable

logger = logging.getLogger(__name__)

RECENT_ACTIONS = 10
MAX_BACKFILL_ACTIONS = 1000
"""The most fire times one backfill may start."""
TRIGGER_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class ScheduleLive:
    """What Temporal says of a task's schedule."""

    description: ScheduleDescription
    in_sync: bool
    """Whether Temporal's schedule matches the stored one."""
    paused: bool
    """Whether Temporal has it paused."""
    recent_actions: list[ScheduleActionResult]
    """Its last actions, newest first."""
    runs: dict[str, TaskRun]
    """The runs those actions started, by workflow run id."""


@dataclass(frozen=True)
class ScheduleView:
    """A task's schedule as stored, and as Temporal has it (``live`` is None when it has none)."""

    task: Task
    spec: ScheduleSpec
    schedule_id: str
    paused: bool
    """Whether the stored schedule should be paused (by a person, or because of the task's status)."""
    pause_reason: str | None
    live: ScheduleLive | None


@dataclass
class TriggerOutcome:
    """A run started now by the schedule, and what of it could be seen within a few seconds."""

    task_id: uuid.UUID
    triggered_at: datetime
    workflow_id: str | None = None
    workflow_run_id: str | None = None
    run_id: uuid.UUID | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def no_schedule(task: Task) -> ProblemError:
    return not_found(f"Task '{task.cy_name}' has no schedule")


def temporal_unavailable(error: Exception) -> ProblemError:
    return ProblemError(
        503,
        "service-unavailable",
        f"Temporal did not answer ({type(error).__name__}: {error}); the schedule is unchanged",
        headers={"Retry-After": "5"},
    )


def invalid_schedule(errors: list[dict[str, Any]]) -> ProblemError:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ProblemError(422, "invalid-schedule", f"{first['message']}{more}", title="Invalid schedule", errors=errors)


def parse_spec(fields: dict[str, Any]) -> ScheduleSpec:
    """The schedule a request body asks for; 422 naming every fault."""
    try:
        return validate_spec(**fields)
    except ScheduleSpecError as error:
        raise invalid_schedule(error.errors) from error


def check_time_range(start: datetime, end: datetime, where: str) -> None:
    errors = time_range_errors(start, end, where)
    if errors:
        raise invalid_schedule(errors)


def check_backfill_range(start: datetime, end: datetime) -> None:
    """422 unless [start, end] is a range of past fire times."""
    errors = time_range_errors(start, end, "body")
    if end > _now() + timedelta(seconds=1):
        errors.append({"field": "end", "in": "body", "message": "end is in the future; a backfill covers past fire times"})
    if errors:
        raise invalid_schedule(errors)


def spec_of(task: Task) -> ScheduleSpec:
    """The task's stored schedule; 404 when it has none."""
    if task.schedule is None:
        raise no_schedule(task)
    return ScheduleSpec.from_record(task.schedule)


@asynccontextmanager
async def schedule_lock(state: AppState, owner_id: uuid.UUID) -> AsyncIterator[None]:
    """Serialize changes to one task's (or workflow's) schedule across API processes (a
    transaction-scoped lock keyed by the owner's id)."""
    key = int.from_bytes(owner_id.bytes[:8], "big", signed=True)
    async with state.sessionmaker() as lock_session, lock_session.begin():
        await lock_session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        yield


async def _locked_task(session: AsyncSession, ident: str) -> Task:
    session.expire_all()
    task = await task_repo.get_task(session, ident, for_update=True)
    if task is None:
        raise task_not_found(ident)
    return task


async def _apply(state: AppState, task: Task, spec: ScheduleSpec | None) -> None:
    client = await state.temporal_client()
    if spec is None:
        await schedule_service.remove_schedule(client, task.id)
        return
    await schedule_service.apply_schedule(
        client,
        task_id=task.id,
        task_name=task.cy_name,
        task_status=task.status,
        spec=spec,
        namespace=state.settings.TEMPORAL_NAMESPACE,
        default_task_queue=state.settings.TASK_QUEUE,
    )


SetRow = Callable[[AsyncSession, uuid.UUID, dict[str, Any] | None], Awaitable[Any]]


async def write_schedule(
    state: AppState,
    session: AsyncSession,
    owner: Any,
    spec: ScheduleSpec | None,
    *,
    set_row: SetRow,
    apply: Callable[[], Awaitable[None]],
    action: str,
    target_type: str,
    details: dict[str, Any],
) -> None:
    """The schedule protocol of a task or a workflow (``owner``, with ``id`` and ``schedule``):
    store the new schedule and its audit entry (committed), then make Temporal match with
    ``apply``; put the row back when Temporal refuses or fails."""
    previous = owner.schedule
    if spec is not None:
        spec.updated_at = _now().isoformat()
        spec.created_at = spec.created_at or spec.updated_at
        spec.task_queue = spec.task_queue or state.settings.TASK_QUEUE
    record = spec.to_record() if spec is not None else None
    await set_row(session, owner.id, record)
    await audit(session, action, target_type, owner.id, details=details)
    await session.commit()
    try:
        await apply()
    except schedule_service.ScheduleRejected as error:
        await _restore(session, set_row, owner.id, previous)
        raise invalid_schedule([{"field": "schedule", "in": "body", "message": f"Temporal rejected it: {error}"}])
    except Exception as error:
        await _restore(session, set_row, owner.id, previous)
        raise temporal_unavailable(error) from error
    owner.schedule = record


async def _restore(session: AsyncSession, set_row: SetRow, owner_id: uuid.UUID, previous: dict[str, Any] | None) -> None:
    try:
        await session.rollback()
        await set_row(session, owner_id, previous)
        await session.commit()
    except Exception as error:  # reconciliation will align Temporal with whatever the row says
        logger.warning("could not restore the schedule row of %s: %s", owner_id, error)


async def _write(
    state: AppState,
    session: AsyncSession,
    task: Task,
    spec: ScheduleSpec | None,
    action: str,
    details: dict[str, Any] | None = None,
) -> None:
    await write_schedule(
        state,
        session,
        task,
        spec,
        set_row=schedule_repo.set_task_schedule,
        apply=lambda: _apply(state, task, spec),
        action=action,
        target_type="schedule",
        details={"task": task.cy_name, **(details or {})},
    )


async def set_schedule(
    state: AppState,
    session: AsyncSession,
    probe: Task,
    spec: ScheduleSpec,
    *,
    version: int | None,
    input: Any,
    requested: dict[str, Any],
) -> Task:
    """Create or replace the task's schedule (its runs' input checked against the version they
    run); ``requested`` is the request as the audit log records it."""
    pinned = await pinned_version(session, probe, version)
    await validate_input_off_loop(state.settings, pinned.input_schema, input)
    async with schedule_lock(state, probe.id):
        task = await _locked_task(session, str(probe.id))
        if task.schedule is not None:
            old = ScheduleSpec.from_record(task.schedule)
            spec.created_at, spec.backfills, spec.task_queue = old.created_at, old.backfills, old.task_queue
        await _write(state, session, task, spec, "schedule.set", {"schedule": requested})
    return task


async def remove_schedule(state: AppState, session: AsyncSession, probe: Task) -> None:
    async with schedule_lock(state, probe.id):
        task = await _locked_task(session, str(probe.id))
        if task.schedule is None:
            raise no_schedule(task)
        await _write(state, session, task, None, "schedule.delete")


async def set_paused(state: AppState, session: AsyncSession, probe: Task, paused: bool, note: str | None) -> Task:
    async with schedule_lock(state, probe.id):
        task = await _locked_task(session, str(probe.id))
        spec = spec_of(task)
        spec.paused = paused
        if note is not None or not paused:
            spec.note = note
        action = "schedule.pause" if paused else "schedule.unpause"
        await _write(state, session, task, spec, action, {"note": note})
    return task


async def _live(state: AppState, session: AsyncSession, task: Task, spec: ScheduleSpec, paused: bool) -> ScheduleLive | None:
    try:
        client = await state.temporal_client()
        description = await schedule_service.describe_schedule(client, task.id)
    except Exception as error:
        raise temporal_unavailable(error) from error
    if description is None:
        return None
    desired = build_schedule(
        spec,
        task_id=task.id,
        task_name=task.cy_name,
        task_status=task.status,
        task_queue=spec.task_queue or state.settings.TASK_QUEUE,
        with_search_attributes=await search_attributes_registered(client, state.settings.TEMPORAL_NAMESPACE),
    )
    in_sync = (
        action_fingerprint(description.schedule) == action_fingerprint(desired)
        and bool(description.schedule.state.paused) == paused
    )
    info = description.info
    recent = sorted(info.recent_actions, key=lambda action: action.started_at, reverse=True)[:RECENT_ACTIONS]
    runs: dict[str, TaskRun] = {}
    if recent:
        run_ids = [action.action.first_execution_run_id for action in recent]
        since = min(action.started_at for action in recent) - timedelta(hours=1)
        runs = await schedule_repo.runs_by_workflow_run_ids(session, task.id, run_ids, since)
    return ScheduleLive(
        description=description,
        in_sync=in_sync,
        paused=bool(description.schedule.state.paused),
        recent_actions=recent,
        runs=runs,
    )


async def schedule_view(state: AppState, session: AsyncSession, task: Task) -> ScheduleView:
    """The task's schedule as stored and as Temporal has it; 404 without one, 503 when Temporal does not answer."""
    spec = spec_of(task)
    paused, reason, _note = pause_state(spec, task.status)
    live = await _live(state, session, task, spec, paused)
    return ScheduleView(
        task=task, spec=spec, schedule_id=schedule_id_for(task.id), paused=paused, pause_reason=reason, live=live
    )


async def trigger_now(state: AppState, session: AsyncSession, task: Task, overlap: str | None) -> TriggerOutcome:
    """Have the schedule start a run now, and wait a few seconds to name its workflow and run."""
    spec_of(task)
    ensure_runnable(task)
    triggered_at = _now()
    await audit(session, "schedule.trigger", "schedule", task.id, details={"task": task.cy_name})
    await session.commit()
    try:
        client = await state.temporal_client()
        await schedule_service.trigger_schedule(client, task.id, overlap)
    except Exception as error:
        raise temporal_unavailable(error) from error
    task_uuid = task.id
    result = TriggerOutcome(task_id=task_uuid, triggered_at=triggered_at)
    deadline = asyncio.get_running_loop().time() + TRIGGER_WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        description = await schedule_service.describe_schedule(client, task_uuid)
        started = [
            action
            for action in (description.info.recent_actions if description else [])
            if action.started_at >= triggered_at - timedelta(seconds=1)
            and abs((action.scheduled_at - action.started_at).total_seconds()) < 2
        ]
        if started:
            action = max(started, key=lambda a: a.started_at).action
            result.workflow_id = action.workflow_id
            result.workflow_run_id = action.first_execution_run_id
            runs = await schedule_repo.runs_by_workflow_run_ids(
                session, task_uuid, [action.first_execution_run_id], triggered_at - timedelta(hours=1)
            )
            run_ids = [run.id for run in runs.values()]
            await session.rollback()
            if run_ids:
                result.run_id = run_ids[0]
                break
        await asyncio.sleep(0.2)
    return result


async def _matching_times(state: AppState, task: Task, start: datetime, end: datetime) -> list[datetime]:
    try:
        client = await state.temporal_client()
        return await schedule_service.matching_times(
            client, state.settings.TEMPORAL_NAMESPACE, task.id, start, end
        )
    except Exception as error:
        raise temporal_unavailable(error) from error


async def request_backfill(
    state: AppState, session: AsyncSession, probe: Task, start: datetime, end: datetime, overlap: str
) -> dict[str, Any]:
    """Run every fire time of [start, end] now; the stored record of the backfill request."""
    spec_of(probe)
    times = await _matching_times(state, probe, start, end)
    if len(times) > MAX_BACKFILL_ACTIONS:
        raise invalid_schedule(
            [
                {
                    "field": "start",
                    "in": "body",
                    "message": f"the range holds {len(times)} fire times; a backfill may start at most "
                    f"{MAX_BACKFILL_ACTIONS} (split the range)",
                }
            ]
        )
    record = {
        "id": uuid.uuid4().hex[:12],
        "start": start.isoformat(),
        "end": end.isoformat(),
        "overlap": overlap,
        "requested_at": _now().isoformat(),
        "expected_runs": len(times),
    }
    async with schedule_lock(state, probe.id):
        task = await _locked_task(session, str(probe.id))
        spec = spec_of(task)
        spec.backfills = (spec.backfills + [record])[-MAX_BACKFILL_RECORDS:]
        spec.updated_at = _now().isoformat()
        await schedule_repo.set_task_schedule(session, task.id, spec.to_record())
        await audit(session, "schedule.backfill", "schedule", task.id, details={"task": task.cy_name, **record})
        await session.commit()
    try:
        client = await state.temporal_client()
        await schedule_service.backfill_schedule(client, task.id, start, end, overlap)
    except Exception as error:
        raise temporal_unavailable(error) from error
    return record


async def fire_times(state: AppState, task: Task, start: datetime, end: datetime) -> tuple[ScheduleSpec, list[datetime]]:
    """The times in [start, end] the task's schedule fires at, as Temporal computes them."""
    spec = spec_of(task)
    return spec, await _matching_times(state, task, start, end)


async def schedule_runs(
    session: AsyncSession, task: Task, *, backfill: bool | None, cursor: str | None, limit: int
) -> Page[TaskRun]:
    try:
        return await schedule_repo.list_schedule_runs(session, task.id, backfill=backfill, cursor=cursor, limit=limit)
    except InvalidCursor as error:
        raise invalid_cursor(error) from error


async def reconcile_now(state: AppState) -> dict[str, Any]:
    """Make every Temporal schedule match its task row; the report of what changed."""
    try:
        client = await state.temporal_client()
        report = await schedule_service.reconcile(
            client,
            state.sessionmaker,
            namespace=state.settings.TEMPORAL_NAMESPACE,
            default_task_queue=state.settings.TASK_QUEUE,
        )
    except Exception as error:
        raise temporal_unavailable(error) from error
    return report.as_dict()


async def reconcile_in_background(state: AppState) -> ReconcileReport | None:
    """Reconcile at start, retrying while the database or Temporal is not reachable yet; the
    report (None when no attempt got through)."""
    return await schedule_service.reconcile_in_background(
        state.temporal_client,
        state.sessionmaker,
        namespace=state.settings.TEMPORAL_NAMESPACE,
        default_task_queue=state.settings.TASK_QUEUE,
    )


async def sync_task_schedule(state: AppState, task: Task | None) -> None:
    """After a task's status or name changed: pause, resume or relabel its schedule.

    Failures are logged, not raised: the task change stands and reconciliation repairs the schedule."""
    if task is None or task.schedule is None:
        return
    try:
        await _apply(state, task, ScheduleSpec.from_record(task.schedule))
    except Exception as error:
        logger.warning("could not update the schedule of task %s after a change: %s", task.id, error)
