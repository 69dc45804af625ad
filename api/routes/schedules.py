"""/v1/tasks/{id}/schedule and /v1/workflows/{workflow}/schedule: a task's or a workflow's
schedule on a Temporal Schedule (see `services.schedules` and `services.workflow_schedules`).
Both take the same request bodies and answer the same shapes, named for their owner."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from schedules import OVERLAP_POLICIES

from ..deps import SessionDep, StateDep, TaskDep, TaskRefDep
from ..presenters import (
    backfill_resource,
    fire_times_resource,
    schedule_resource,
    schedule_run_page,
    trigger_resource,
    workflow_backfill_resource,
    workflow_fire_times_resource,
    workflow_schedule_resource,
    workflow_trigger_resource,
)
from ..problems import problem_responses
from ..route import CytasksRoute
from ..schemas import INT32_MAX, UtcDatetime
from ..services import schedules as schedule_service
from ..services import workflow_schedules as workflow_schedule_service
from ..services.task_lookup import TaskRef
from ..state import AppState

router = APIRouter(tags=["schedules"], route_class=CytasksRoute)

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
        description="Run this version of the task (or workflow) on every fire (default: the version "
        "current at fire time)",
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


class ScheduleFields(BaseModel):
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
        default=None,
        description="`paused` (by a person) or `task_disabled` / `task_archived` "
        "(`workflow_disabled` / `workflow_archived`)",
    )
    paused_by_user: bool
    note: str | None = None
    version: int | None = Field(default=None, description="The pinned version; null: the current one at fire time")
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


class ScheduleRead(ScheduleFields):
    task_id: uuid.UUID
    task: str
    task_status: str


class WorkflowScheduleRead(ScheduleFields):
    """A workflow's schedule; each recent action's `run_id` is the workflow run it recorded."""

    workflow_id: uuid.UUID
    workflow: str
    workflow_status: str


class FireTimes(BaseModel):
    task_id: uuid.UUID
    timezone: str
    start: datetime
    end: datetime
    times: list[datetime]
    local_times: list[str] = Field(description="The same instants in the schedule's time zone")


class WorkflowFireTimes(BaseModel):
    workflow_id: uuid.UUID
    timezone: str
    start: datetime
    end: datetime
    times: list[datetime]
    local_times: list[str] = Field(description="The same instants in the schedule's time zone")


class WorkflowTriggerResult(BaseModel):
    workflow_id: uuid.UUID
    triggered_at: datetime
    temporal_workflow_id: str | None = None
    temporal_run_id: str | None = None
    workflow_run_id: uuid.UUID | None = Field(default=None, description="The workflow run the fire recorded")


class WorkflowBackfillResult(BaseModel):
    workflow_id: uuid.UUID
    backfill: dict[str, Any]
    expected_runs: int = Field(description="How many fire times the range holds")


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


@router.put(
    "/tasks/{task_id}/schedule",
    response_model=ScheduleRead,
    summary="Set (create or replace) a task's schedule",
    responses=problem_responses(404, 422, 503),
)
async def put_schedule(task: TaskRefDep, body: ScheduleSet, session: SessionDep, state: StateDep) -> Any:
    spec = schedule_service.parse_spec(body.model_dump())
    changed = await schedule_service.set_schedule(
        state,
        session,
        await task.load(),
        spec,
        version=body.version,
        input=body.input,
        requested=body.model_dump(mode="json"),
    )
    return schedule_resource(await schedule_service.schedule_view(state, session, changed))


@router.get(
    "/tasks/{task_id}/schedule",
    response_model=ScheduleRead,
    summary="A task's schedule, its next 5 fire times and its last 10 actions with their runs",
    responses=problem_responses(404, 503),
)
async def get_schedule(task: TaskDep, session: SessionDep, state: StateDep) -> Any:
    return schedule_resource(await schedule_service.schedule_view(state, session, task))


@router.delete(
    "/tasks/{task_id}/schedule",
    status_code=204,
    summary="Remove a task's schedule (runs already recorded are kept)",
    responses=problem_responses(404, 503),
)
async def delete_schedule(task: TaskDep, session: SessionDep, state: StateDep) -> Response:
    await schedule_service.remove_schedule(state, session, task)
    return Response(status_code=204)


async def _set_paused(
    state: AppState, session: AsyncSession, task: TaskRef, paused: bool, body: PauseBody | None
) -> dict[str, Any]:
    changed = await schedule_service.set_paused(state, session, await task.load(), paused, body.note if body else None)
    return schedule_resource(await schedule_service.schedule_view(state, session, changed))


@router.post(
    "/tasks/{task_id}/schedule/pause",
    response_model=ScheduleRead,
    summary="Pause a task's schedule, with a note saying why",
    responses=problem_responses(404, 503),
)
async def pause_schedule(
    task: TaskRefDep, session: SessionDep, state: StateDep, body: PauseBody | None = None
) -> Any:
    return await _set_paused(state, session, task, True, body)


@router.post(
    "/tasks/{task_id}/schedule/unpause",
    response_model=ScheduleRead,
    summary="Resume a task's schedule (it stays paused while the task is disabled or archived)",
    responses=problem_responses(404, 503),
)
async def unpause_schedule(
    task: TaskRefDep, session: SessionDep, state: StateDep, body: PauseBody | None = None
) -> Any:
    return await _set_paused(state, session, task, False, body)


@router.post(
    "/tasks/{task_id}/schedule/trigger",
    status_code=202,
    response_model=TriggerResult,
    summary="Run the scheduled task now (a normal schedule action, trigger `schedule`)",
    responses=problem_responses(404, 409, 503),
)
async def trigger(task: TaskRefDep, session: SessionDep, state: StateDep, body: TriggerBody | None = None) -> Any:
    outcome = await schedule_service.trigger_now(state, session, await task.load(), body.overlap if body else None)
    return trigger_resource(outcome)


@router.post(
    "/tasks/{task_id}/schedule/backfill",
    status_code=202,
    response_model=BackfillResult,
    summary="Run every fire time of a past range now; those runs are marked as a backfill",
    responses=problem_responses(404, 422, 503),
)
async def backfill(task: TaskRefDep, body: BackfillBody, session: SessionDep, state: StateDep) -> Any:
    schedule_service.check_backfill_range(body.start, body.end)
    found = await task.load()
    record = await schedule_service.request_backfill(state, session, found, body.start, body.end, body.overlap)
    return backfill_resource(found, record)


@router.get(
    "/tasks/{task_id}/schedule/fire-times",
    response_model=FireTimes,
    summary="The times in a range at which the schedule fires, as Temporal computes them (DST included)",
    responses=problem_responses(404, 422, 503),
)
async def fire_times(
    task: TaskRefDep,
    session: SessionDep,
    state: StateDep,
    start: Annotated[UtcDatetime, Query(description="Inclusive (ISO 8601; UTC when no offset)")],
    end: Annotated[UtcDatetime, Query(description="Inclusive")],
) -> Any:
    schedule_service.check_time_range(start, end, "query")
    found = await task.load()
    spec, times = await schedule_service.fire_times(state, found, start, end)
    return fire_times_resource(found, spec.timezone, start, end, times)


@router.get(
    "/tasks/{task_id}/schedule/runs",
    response_model=ScheduleRunPage,
    summary="Runs the schedule started (each with its scheduled time and backfill id), newest first",
    responses=problem_responses(400, 404),
)
async def schedule_runs(
    task: TaskRefDep,
    session: SessionDep,
    state: StateDep,
    backfill: Annotated[bool | None, Query(description="Only backfill runs (true) or only regular fires (false)")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Any:
    found = await schedule_service.schedule_runs(
        session, await task.load(), backfill=backfill, cursor=cursor, limit=limit
    )
    return await schedule_run_page(state, found.items, found.next_cursor)


@router.post(
    "/schedules/reconcile",
    response_model=ReconcileResult,
    summary="Make every Temporal schedule match its task or workflow row now (also done at API and worker start)",
    responses=problem_responses(503),
)
async def reconcile_now(state: StateDep) -> Any:
    return await schedule_service.reconcile_now(state)


# -- workflows ----------------------------------------------------------------------------------


@router.put(
    "/workflows/{workflow}/schedule",
    response_model=WorkflowScheduleRead,
    summary="Set (create or replace) a workflow's schedule",
    responses=problem_responses(404, 422, 503),
)
async def put_workflow_schedule(workflow: str, body: ScheduleSet, session: SessionDep, state: StateDep) -> Any:
    spec = schedule_service.parse_spec(body.model_dump())
    changed = await workflow_schedule_service.set_schedule(
        state,
        session,
        workflow,
        spec,
        version=body.version,
        input=body.input,
        requested=body.model_dump(mode="json"),
    )
    return workflow_schedule_resource(await workflow_schedule_service.schedule_view(state, session, changed))


@router.get(
    "/workflows/{workflow}/schedule",
    response_model=WorkflowScheduleRead,
    summary="A workflow's schedule, its next 5 fire times and its last 10 actions with their runs",
    responses=problem_responses(404, 503),
)
async def get_workflow_schedule(workflow: str, session: SessionDep, state: StateDep) -> Any:
    found = await workflow_schedule_service.load(session, workflow)
    return workflow_schedule_resource(await workflow_schedule_service.schedule_view(state, session, found))


@router.delete(
    "/workflows/{workflow}/schedule",
    status_code=204,
    summary="Remove a workflow's schedule (runs already recorded are kept)",
    responses=problem_responses(404, 503),
)
async def delete_workflow_schedule(workflow: str, session: SessionDep, state: StateDep) -> Response:
    await workflow_schedule_service.remove_schedule(state, session, workflow)
    return Response(status_code=204)


async def _set_workflow_paused(
    state: AppState, session: AsyncSession, workflow: str, paused: bool, body: PauseBody | None
) -> dict[str, Any]:
    changed = await workflow_schedule_service.set_paused(state, session, workflow, paused, body.note if body else None)
    return workflow_schedule_resource(await workflow_schedule_service.schedule_view(state, session, changed))


@router.post(
    "/workflows/{workflow}/schedule/pause",
    response_model=WorkflowScheduleRead,
    summary="Pause a workflow's schedule, with a note saying why",
    responses=problem_responses(404, 503),
)
async def pause_workflow_schedule(
    workflow: str, session: SessionDep, state: StateDep, body: PauseBody | None = None
) -> Any:
    return await _set_workflow_paused(state, session, workflow, True, body)


@router.post(
    "/workflows/{workflow}/schedule/unpause",
    response_model=WorkflowScheduleRead,
    summary="Resume a workflow's schedule (it stays paused while the workflow is disabled or archived)",
    responses=problem_responses(404, 503),
)
async def unpause_workflow_schedule(
    workflow: str, session: SessionDep, state: StateDep, body: PauseBody | None = None
) -> Any:
    return await _set_workflow_paused(state, session, workflow, False, body)


@router.post(
    "/workflows/{workflow}/schedule/trigger",
    status_code=202,
    response_model=WorkflowTriggerResult,
    summary="Run the scheduled workflow now (a normal schedule action, trigger `schedule`)",
    responses=problem_responses(404, 409, 503),
)
async def trigger_workflow(
    workflow: str, session: SessionDep, state: StateDep, body: TriggerBody | None = None
) -> Any:
    outcome = await workflow_schedule_service.trigger_now(state, session, workflow, body.overlap if body else None)
    return workflow_trigger_resource(outcome)


@router.post(
    "/workflows/{workflow}/schedule/backfill",
    status_code=202,
    response_model=WorkflowBackfillResult,
    summary="Run every fire time of a past range now; those runs are marked as a backfill",
    responses=problem_responses(404, 422, 503),
)
async def backfill_workflow(workflow: str, body: BackfillBody, session: SessionDep, state: StateDep) -> Any:
    schedule_service.check_backfill_range(body.start, body.end)
    found, record = await workflow_schedule_service.request_backfill(
        state, session, workflow, body.start, body.end, body.overlap
    )
    return workflow_backfill_resource(found, record)


@router.get(
    "/workflows/{workflow}/schedule/fire-times",
    response_model=WorkflowFireTimes,
    summary="The times in a range at which the workflow's schedule fires, as Temporal computes them",
    responses=problem_responses(404, 422, 503),
)
async def workflow_fire_times(
    workflow: str,
    session: SessionDep,
    state: StateDep,
    start: Annotated[UtcDatetime, Query(description="Inclusive (ISO 8601; UTC when no offset)")],
    end: Annotated[UtcDatetime, Query(description="Inclusive")],
) -> Any:
    schedule_service.check_time_range(start, end, "query")
    found, spec, times = await workflow_schedule_service.fire_times(state, session, workflow, start, end)
    return workflow_fire_times_resource(found, spec.timezone, start, end, times)
