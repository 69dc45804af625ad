"""/v1/tasks/{id}/schedule: a task's schedule on a Temporal Schedule.

Every change is written to the task row first (committed, so a fire that follows at once finds
it), then to Temporal; when Temporal refuses or cannot be reached the row is put back and the
error answered. Changes to one task's schedule are serialized by an advisory lock. Whatever
still drifts is repaired by the reconciliation run at API and worker start.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.repository import tasks as task_repo
from persistence.repository import schedules as schedule_repo
from persistence.repository.pagination import InvalidCursor
from schedules import OVERLAP_POLICIES, ScheduleSpec, ScheduleSpecError, validate_spec
from schedules.spec import time_range_errors
from schedules import service as schedule_service
from schedules.temporal import pause_state, schedule_id_for

from ..services.auditing import audit
from ..deps import AppState, SessionDep, StateDep
from ..presenters import run_resource
from ..problems import ProblemError, invalid_cursor, not_found, problem_responses, task_not_found
from ..route import CytasksRoute
from ..schemas import INT32_MAX, UtcDatetime
from ..services.task_versions import pinned_version
from ..services.schema_checks import validate_input_off_loop

logger = logging.getLogger(__name__)

router = APIRouter(tags=["schedules"], route_class=CytasksRoute)

NEXT_FIRE_TIMES = 5
RECENT_ACTIONS = 10
MAX_BACKFILL_ACTIONS = 1000
MAX_LISTED_TIMES = 1000
TRIGGER_WAIT_SECONDS = 5.0

OverlapPolicy = Literal["skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all"]
Duration = str | float


class ScheduleSet(BaseModel):
    """A cron expression or an interval, and how the runs it starts behave."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"cron": "0 7 * * 1-5", "timezone": "Europe/Paris", "input": {"region": "eu"}},
                {"interval": "5m", "offset": "1m", "overlap": "buffer_one"},
            ]
        },
    )

    cron: str | None = Field(
        default=None,
        description="5 fields (minute hour day-of-month month day-of-week) or @yearly, @monthly, "
        "@weekly, @daily, @hourly",
    )
    interval: str | None = Field(
        default=None, description="Every `90s`, `5m`, `1h`, `1d`, ... (optionally `1h/15m` for an offset)"
    )
    offset: Duration | None = Field(default=None, description="Shift of interval fires (`15m` with `1h`: :15 past)")
    timezone: str = Field(default="UTC", description="IANA time zone the cron expression is read in")
    input: Any = Field(default=None, description="The input of every run (validated against the task's input_schema)")
    overlap: str = Field(
        default="skip", description="When a run is still going at the next fire: " + ", ".join(OVERLAP_POLICIES)
    )
    catchup_window: Duration | None = Field(
        default=None, description="How late a missed fire may still start (at least 10s; default one year)"
    )
    jitter: Duration | None = Field(default=None, description="Random delay up to this much added to each fire")
    paused: bool = False
    note: str | None = Field(default=None, max_length=1000)
    version: int | None = Field(
        default=None,
        ge=1,
        le=INT32_MAX,
        description="Run this task version on every fire (default: the version current at fire time)",
    )


class PauseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=1000)


class TriggerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap: OverlapPolicy | None = Field(
        default=None, description="Overrides the schedule's overlap policy for this run"
    )


class BackfillBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: UtcDatetime = Field(description="Inclusive (ISO 8601; UTC when no offset)")
    end: UtcDatetime = Field(description="Inclusive; not in the future")
    overlap: OverlapPolicy = Field(default="allow_all", description="Overlap policy among the backfilled runs")


class ScheduleAction(BaseModel):
    scheduled_time: datetime
    started_at: datetime | None = None
    workflow_id: str
    workflow_run_id: str | None = None
    run_id: uuid.UUID | None = None
    status: str | None = None
    backfill_id: str | None = None


class ScheduleRead(BaseModel):
    task_id: uuid.UUID
    task: str
    task_status: str
    schedule_id: str
    cron: str | None = None
    interval: str | None = None
    offset: str | None = None
    timezone: str
    input: Any = None
    overlap: str
    catchup_window: str | None = None
    jitter: str | None = None
    paused: bool = Field(description="Whether the schedule is paused in Temporal")
    pause_reason: str | None = Field(
        default=None, description="`paused` (by a person) or `task_disabled` / `task_archived`"
    )
    paused_by_user: bool
    note: str | None = None
    version: int | None = Field(default=None, description="The pinned task version; null: the current one at fire time")
    next_fire_times: list[datetime] = []
    recent_actions: list[ScheduleAction] = []
    num_actions: int | None = None
    num_skipped_overlap: int | None = None
    num_missed_catchup_window: int | None = None
    running_workflow_ids: list[str] = []
    backfills: list[dict[str, Any]] = []
    in_sync: bool = Field(description="Whether Temporal's schedule matches the stored one")
    created_at: datetime | None = None
    updated_at: datetime | None = None


class FireTimes(BaseModel):
    task_id: uuid.UUID
    timezone: str
    start: datetime
    end: datetime
    times: list[datetime]
    local_times: list[str] = Field(description="The same instants in the schedule's time zone")


class TriggerResult(BaseModel):
    task_id: uuid.UUID
    triggered_at: datetime
    workflow_id: str | None = None
    workflow_run_id: str | None = None
    run_id: uuid.UUID | None = None


class BackfillResult(BaseModel):
    task_id: uuid.UUID
    backfill: dict[str, Any]
    expected_runs: int = Field(description="How many fire times the range holds")


class ScheduleRunRead(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: uuid.UUID
    status: str
    scheduled_time: datetime | None = None
    backfill_id: str | None = None


class ScheduleRunPage(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None = None


class ReconcileResult(BaseModel):
    checked: int
    created: list[str]
    updated: list[str]
    deleted: list[str]
    errors: dict[str, str]


# ---------------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def no_schedule(task: Any) -> ProblemError:
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


async def _task(session: AsyncSession, ident: str) -> Any:
    task = await task_repo.get_task(session, ident)
    if task is None:
        raise task_not_found(ident)
    return task


def _spec_of(task: Any) -> ScheduleSpec:
    if task.schedule is None:
        raise no_schedule(task)
    return ScheduleSpec.from_record(task.schedule)


@asynccontextmanager
async def _schedule_lock(state: AppState, task_id: uuid.UUID) -> AsyncIterator[None]:
    """Serialize changes to one task's schedule across API processes (a transaction-scoped lock)."""
    key = int.from_bytes(task_id.bytes[:8], "big", signed=True)
    async with state.sessionmaker() as lock_session, lock_session.begin():
        await lock_session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        yield


async def _apply(state: AppState, task: Any, spec: ScheduleSpec | None) -> None:
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


async def _write(
    state: AppState, session: AsyncSession, task: Any, spec: ScheduleSpec | None, action: str, details: dict | None = None
) -> None:
    """Store the new schedule and its audit entry (committed), then make Temporal match; put the
    row back on failure."""
    previous = task.schedule
    if spec is not None:
        spec.updated_at = _now().isoformat()
        spec.created_at = spec.created_at or spec.updated_at
        spec.task_queue = spec.task_queue or state.settings.TASK_QUEUE
    record = spec.to_record() if spec is not None else None
    await schedule_repo.set_task_schedule(session, task.id, record)
    await audit(session, action, "schedule", task.id, details={"task": task.cy_name, **(details or {})})
    await session.commit()
    try:
        await _apply(state, task, spec)
    except schedule_service.ScheduleRejected as error:
        await _restore(state, session, task, previous)
        raise invalid_schedule([{"field": "schedule", "in": "body", "message": f"Temporal rejected it: {error}"}])
    except Exception as error:
        await _restore(state, session, task, previous)
        raise temporal_unavailable(error) from error
    task.schedule = record


async def _restore(state: AppState, session: AsyncSession, task: Any, previous: Any) -> None:
    try:
        await session.rollback()
        await schedule_repo.set_task_schedule(session, task.id, previous)
        await session.commit()
    except Exception as error:  # reconciliation will align Temporal with whatever the row says
        logger.warning("could not restore the schedule row of task %s: %s", task.id, error)


async def _locked_task(session: AsyncSession, ident: str) -> Any:
    session.expire_all()
    task = await task_repo.get_task(session, ident, for_update=True)
    if task is None:
        raise task_not_found(ident)
    return task


async def schedule_resource(state: AppState, session: AsyncSession, task: Any) -> dict[str, Any]:
    spec = _spec_of(task)
    paused, reason, _note = pause_state(spec, task.status)
    resource: dict[str, Any] = {
        "task_id": task.id,
        "task": task.cy_name,
        "task_status": task.status,
        "schedule_id": schedule_id_for(task.id),
        "cron": spec.cron,
        "interval": spec.interval,
        "offset": spec.offset,
        "timezone": spec.timezone,
        "input": spec.input,
        "overlap": spec.overlap,
        "catchup_window": spec.catchup_window,
        "jitter": spec.jitter,
        "paused": paused,
        "pause_reason": reason,
        "paused_by_user": spec.paused,
        "note": spec.note,
        "version": spec.version,
        "backfills": spec.backfills,
        "created_at": spec.created_at,
        "updated_at": spec.updated_at,
        "in_sync": False,
    }
    try:
        client = await state.temporal_client()
        description = await schedule_service.describe_schedule(client, task.id)
    except Exception as error:
        raise temporal_unavailable(error) from error
    if description is None:
        return resource
    from schedules.temporal import action_fingerprint, build_schedule

    desired = build_schedule(
        spec,
        task_id=task.id,
        task_name=task.cy_name,
        task_status=task.status,
        task_queue=spec.task_queue or state.settings.TASK_QUEUE,
        with_search_attributes=await schedule_service._attributes_registered(client, state.settings.TEMPORAL_NAMESPACE),
    )
    info = description.info
    resource["in_sync"] = (
        action_fingerprint(description.schedule) == action_fingerprint(desired)
        and bool(description.schedule.state.paused) == paused
    )
    resource["paused"] = bool(description.schedule.state.paused)
    if not resource["paused"]:
        resource["next_fire_times"] = list(info.next_action_times[:NEXT_FIRE_TIMES])
    resource["num_actions"] = info.num_actions
    resource["num_skipped_overlap"] = info.num_actions_skipped_overlap
    resource["num_missed_catchup_window"] = info.num_actions_missed_catchup_window
    resource["running_workflow_ids"] = [action.workflow_id for action in info.running_actions]
    recent = sorted(info.recent_actions, key=lambda action: action.started_at, reverse=True)[:RECENT_ACTIONS]
    run_ids = [action.action.first_execution_run_id for action in recent]
    runs: dict[str, Any] = {}
    if recent:
        since = min(action.started_at for action in recent) - timedelta(hours=1)
        runs = await schedule_repo.runs_by_workflow_run_ids(session, task.id, run_ids, since)
    actions = []
    for action in recent:
        run = runs.get(action.action.first_execution_run_id)
        actions.append(
            {
                "scheduled_time": action.scheduled_at,
                "started_at": action.started_at,
                "workflow_id": action.action.workflow_id,
                "workflow_run_id": action.action.first_execution_run_id,
                "run_id": run.id if run is not None else None,
                "status": run.status if run is not None else None,
                "backfill_id": schedule_repo.backfill_id_of(run.created_by) if run is not None else None,
            }
        )
    resource["recent_actions"] = actions
    return resource


# ---------------------------------------------------------------------------------------------


@router.put(
    "/tasks/{task_id}/schedule",
    response_model=ScheduleRead,
    summary="Set (create or replace) a task's schedule",
    responses=problem_responses(404, 422, 503),
)
async def put_schedule(task_id: str, body: ScheduleSet, session: SessionDep, state: StateDep) -> Any:
    try:
        spec = validate_spec(**body.model_dump())
    except ScheduleSpecError as error:
        raise invalid_schedule(error.errors) from error
    probe = await _task(session, task_id)
    pinned = await pinned_version(session, probe, body.version)
    await validate_input_off_loop(state.settings, pinned.input_schema, body.input)
    async with _schedule_lock(state, probe.id):
        task = await _locked_task(session, str(probe.id))
        if task.schedule is not None:
            old = ScheduleSpec.from_record(task.schedule)
            spec.created_at, spec.backfills, spec.task_queue = old.created_at, old.backfills, old.task_queue
        await _write(state, session, task, spec, "schedule.set", {"schedule": body.model_dump(mode="json")})
    return await schedule_resource(state, session, task)


@router.get(
    "/tasks/{task_id}/schedule",
    response_model=ScheduleRead,
    summary="A task's schedule, its next 5 fire times and its last 10 actions with their runs",
    responses=problem_responses(404, 503),
)
async def get_schedule(task_id: str, session: SessionDep, state: StateDep) -> Any:
    return await schedule_resource(state, session, await _task(session, task_id))


@router.delete(
    "/tasks/{task_id}/schedule",
    status_code=204,
    summary="Remove a task's schedule (runs already recorded are kept)",
    responses=problem_responses(404, 503),
)
async def delete_schedule(task_id: str, session: SessionDep, state: StateDep) -> Response:
    probe = await _task(session, task_id)
    async with _schedule_lock(state, probe.id):
        task = await _locked_task(session, str(probe.id))
        if task.schedule is None:
            raise no_schedule(task)
        await _write(state, session, task, None, "schedule.delete")
    return Response(status_code=204)


async def _set_paused(state: AppState, session: AsyncSession, task_id: str, paused: bool, note: str | None) -> Any:
    probe = await _task(session, task_id)
    async with _schedule_lock(state, probe.id):
        task = await _locked_task(session, str(probe.id))
        spec = _spec_of(task)
        spec.paused = paused
        if note is not None or not paused:
            spec.note = note
        action = "schedule.pause" if paused else "schedule.unpause"
        await _write(state, session, task, spec, action, {"note": note})
    return await schedule_resource(state, session, task)


@router.post(
    "/tasks/{task_id}/schedule/pause",
    response_model=ScheduleRead,
    summary="Pause a task's schedule, with a note saying why",
    responses=problem_responses(404, 503),
)
async def pause_schedule(
    task_id: str, session: SessionDep, state: StateDep, body: PauseBody | None = None
) -> Any:
    return await _set_paused(state, session, task_id, True, body.note if body else None)


@router.post(
    "/tasks/{task_id}/schedule/unpause",
    response_model=ScheduleRead,
    summary="Resume a task's schedule (it stays paused while the task is disabled or archived)",
    responses=problem_responses(404, 503),
)
async def unpause_schedule(
    task_id: str, session: SessionDep, state: StateDep, body: PauseBody | None = None
) -> Any:
    return await _set_paused(state, session, task_id, False, body.note if body else None)


@router.post(
    "/tasks/{task_id}/schedule/trigger",
    status_code=202,
    response_model=TriggerResult,
    summary="Run the scheduled task now (a normal schedule action, trigger `schedule`)",
    responses=problem_responses(404, 409, 503),
)
async def trigger(task_id: str, session: SessionDep, state: StateDep, body: TriggerBody | None = None) -> Any:
    task = await _task(session, task_id)
    _spec_of(task)
    if task.status != "enabled":
        raise ProblemError(
            409, "task-not-runnable", f"Task '{task.cy_name}' is {task.status} and cannot be run", task_status=task.status
        )
    triggered_at = _now()
    await audit(session, "schedule.trigger", "schedule", task.id, details={"task": task.cy_name})
    await session.commit()
    try:
        client = await state.temporal_client()
        await schedule_service.trigger_schedule(client, task.id, body.overlap if body else None)
    except Exception as error:
        raise temporal_unavailable(error) from error
    task_uuid = task.id
    result: dict[str, Any] = {"task_id": task_uuid, "triggered_at": triggered_at}
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
            result["workflow_id"] = action.workflow_id
            result["workflow_run_id"] = action.first_execution_run_id
            runs = await schedule_repo.runs_by_workflow_run_ids(
                session, task_uuid, [action.first_execution_run_id], triggered_at - timedelta(hours=1)
            )
            run_ids = [run.id for run in runs.values()]
            await session.rollback()
            if run_ids:
                result["run_id"] = run_ids[0]
                break
        await asyncio.sleep(0.2)
    return result


@router.post(
    "/tasks/{task_id}/schedule/backfill",
    status_code=202,
    response_model=BackfillResult,
    summary="Run every fire time of a past range now; those runs are marked as a backfill",
    responses=problem_responses(404, 422, 503),
)
async def backfill(task_id: str, body: BackfillBody, session: SessionDep, state: StateDep) -> Any:
    start, end = body.start, body.end
    errors = time_range_errors(start, end, "body")
    if end > _now() + timedelta(seconds=1):
        errors.append({"field": "end", "in": "body", "message": "end is in the future; a backfill covers past fire times"})
    if errors:
        raise invalid_schedule(errors)
    probe = await _task(session, task_id)
    _spec_of(probe)
    try:
        client = await state.temporal_client()
        times = await schedule_service.matching_times(client, state.settings.TEMPORAL_NAMESPACE, probe.id, start, end)
    except Exception as error:
        raise temporal_unavailable(error) from error
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
        "overlap": body.overlap,
        "requested_at": _now().isoformat(),
        "expected_runs": len(times),
    }
    async with _schedule_lock(state, probe.id):
        task = await _locked_task(session, str(probe.id))
        spec = _spec_of(task)
        spec.backfills = (spec.backfills + [record])[-50:]
        spec.updated_at = _now().isoformat()
        await schedule_repo.set_task_schedule(session, task.id, spec.to_record())
        await audit(session, "schedule.backfill", "schedule", task.id, details={"task": task.cy_name, **record})
        await session.commit()
    try:
        await schedule_service.backfill_schedule(client, task.id, start, end, body.overlap)
    except Exception as error:
        raise temporal_unavailable(error) from error
    return {"task_id": task.id, "backfill": record, "expected_runs": len(times)}


@router.get(
    "/tasks/{task_id}/schedule/fire-times",
    response_model=FireTimes,
    summary="The times in a range at which the schedule fires, as Temporal computes them (DST included)",
    responses=problem_responses(404, 422, 503),
)
async def fire_times(
    task_id: str,
    session: SessionDep,
    state: StateDep,
    start: Annotated[UtcDatetime, Query(description="Inclusive (ISO 8601; UTC when no offset)")],
    end: Annotated[UtcDatetime, Query(description="Inclusive")],
) -> Any:
    errors = time_range_errors(start, end, "query")
    if errors:
        raise invalid_schedule(errors)
    task = await _task(session, task_id)
    spec = _spec_of(task)
    try:
        client = await state.temporal_client()
        times = await schedule_service.matching_times(client, state.settings.TEMPORAL_NAMESPACE, task.id, start, end)
    except Exception as error:
        raise temporal_unavailable(error) from error
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(spec.timezone)
    times = times[:MAX_LISTED_TIMES]
    return {
        "task_id": task.id,
        "timezone": spec.timezone,
        "start": start,
        "end": end,
        "times": times,
        "local_times": [moment.astimezone(zone).isoformat() for moment in times],
    }


@router.get(
    "/tasks/{task_id}/schedule/runs",
    response_model=ScheduleRunPage,
    summary="Runs the schedule started (each with its scheduled time and backfill id), newest first",
    responses=problem_responses(400, 404),
)
async def schedule_runs(
    task_id: str,
    session: SessionDep,
    state: StateDep,
    backfill: Annotated[bool | None, Query(description="Only backfill runs (true) or only regular fires (false)")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Any:
    task = await _task(session, task_id)
    try:
        page = await schedule_repo.list_schedule_runs(session, task.id, backfill=backfill, cursor=cursor, limit=limit)
    except InvalidCursor as error:
        raise invalid_cursor(error) from error
    items = []
    for run in page.items:
        item = await run_resource(state, run)
        item["scheduled_time"] = run.scheduled_time
        item["backfill_id"] = schedule_repo.backfill_id_of(run.created_by)
        items.append(item)
    return {"items": items, "next_cursor": page.next_cursor}


@router.post(
    "/schedules/reconcile",
    response_model=ReconcileResult,
    summary="Make every Temporal schedule match its task row now (also done at API and worker start)",
    responses=problem_responses(503),
)
async def reconcile_now(state: StateDep) -> Any:
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


async def sync_task_schedule(state: AppState, task: Any) -> None:
    """After a task's status or name changed: pause, resume or relabel its schedule.

    Failures are logged, not raised: the task change stands and reconciliation repairs the schedule."""
    if task is None or task.schedule is None:
        return
    try:
        await _apply(state, task, ScheduleSpec.from_record(task.schedule))
    except Exception as error:
        logger.warning("could not update the schedule of task %s after a change: %s", task.id, error)
