"""A workflow's schedule: stored on the workflow row, run by a Temporal Schedule that starts
``WorkflowRunWorkflow``.

The protocol is the task schedules' (``services.schedules``): every change is written to the
row first (committed, so a fire that follows at once finds it), then to Temporal; when Temporal
refuses or cannot be reached the row is put back and the error answered. Changes to one
workflow's schedule are serialized by the same advisory lock, keyed by the workflow's id.
Whatever still drifts is repaired by the reconciliation run at API and worker start.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import ScheduleActionResult, ScheduleDescription

from persistence.models import WorkflowDefinition, WorkflowRun
from persistence.repository import workflows as workflow_repo
from schedules import ScheduleSpec
from schedules import service as schedule_service
from schedules.spec import MAX_BACKFILL_RECORDS
from schedules.temporal import action_fingerprint, build_workflow_schedule, pause_state, workflow_schedule_id_for
from taskrun.search_attributes import search_attributes_registered

from ..problems import ProblemError, not_found
from ..state import AppState
from .auditing import audit
from .schedules import (
    MAX_BACKFILL_ACTIONS,
    RECENT_ACTIONS,
    TRIGGER_WAIT_SECONDS,
    invalid_schedule,
    schedule_lock,
    temporal_unavailable,
    write_schedule,
)
from .workflow_lookup import ensure_workflow_runnable as ensure_runnable
from .workflow_lookup import load_workflow
from .schema_checks import validate_input_off_loop

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkflowScheduleLive:
    """What Temporal says of a workflow's schedule."""

    description: ScheduleDescription
    in_sync: bool
    paused: bool
    recent_actions: list[ScheduleActionResult]
    """Its last actions, newest first."""
    runs: dict[str, WorkflowRun]
    """The workflow runs those actions recorded, by Temporal workflow id."""


@dataclass(frozen=True)
class WorkflowScheduleView:
    workflow: WorkflowDefinition
    spec: ScheduleSpec
    schedule_id: str
    paused: bool
    pause_reason: str | None
    live: WorkflowScheduleLive | None


@dataclass
class WorkflowTriggerOutcome:
    workflow_id: uuid.UUID
    triggered_at: datetime
    temporal_workflow_id: str | None = None
    temporal_run_id: str | None = None
    workflow_run_id: uuid.UUID | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def no_schedule(workflow: WorkflowDefinition) -> ProblemError:
    return not_found(f"Workflow '{workflow.name}' has no schedule")


def spec_of(workflow: WorkflowDefinition) -> ScheduleSpec:
    """The workflow's stored schedule; 404 when it has none."""
    if workflow.schedule is None:
        raise no_schedule(workflow)
    return ScheduleSpec.from_record(workflow.schedule)


async def load(session: AsyncSession, ident: str, *, for_update: bool = False) -> WorkflowDefinition:
    if for_update:
        session.expire_all()
    return await load_workflow(session, ident, for_update=for_update)


async def _apply(state: AppState, workflow: WorkflowDefinition, spec: ScheduleSpec | None) -> None:
    client = await state.temporal_client()
    if spec is None:
        await schedule_service.remove_by_id(client, workflow_schedule_id_for(workflow.id))
        return
    await schedule_service.apply_workflow_schedule(
        client,
        workflow_id=workflow.id,
        workflow_name=workflow.name,
        workflow_status=workflow.status,
        spec=spec,
        namespace=state.settings.TEMPORAL_NAMESPACE,
        default_task_queue=state.settings.TASK_QUEUE,
    )


async def _write(
    state: AppState,
    session: AsyncSession,
    workflow: WorkflowDefinition,
    spec: ScheduleSpec | None,
    action: str,
    details: dict[str, Any] | None = None,
) -> None:
    await write_schedule(
        state,
        session,
        workflow,
        spec,
        set_row=workflow_repo.set_workflow_schedule,
        apply=lambda: _apply(state, workflow, spec),
        action=action,
        target_type="workflow_schedule",
        details={"workflow": workflow.name, **(details or {})},
    )


async def _pinned_definition(session: AsyncSession, workflow: WorkflowDefinition, version: int | None) -> Any:
    if version is None or version == workflow.version:
        return workflow
    found = await workflow_repo.get_workflow_version(session, workflow.id, version)
    if found is None:
        raise invalid_schedule(
            [{"field": "version", "in": "body", "message": f"no such version (1 to {workflow.version})"}]
        )
    return found


async def set_schedule(
    state: AppState,
    session: AsyncSession,
    ident: str,
    spec: ScheduleSpec,
    *,
    version: int | None,
    input: Any,
    requested: dict[str, Any],
) -> WorkflowDefinition:
    """Create or replace the workflow's schedule (its runs' input checked against the version
    they run); ``requested`` is the request as the audit log records it."""
    probe = await load(session, ident)
    pinned = await _pinned_definition(session, probe, version)
    await validate_input_off_loop(state.settings, pinned.input_schema, input)
    async with schedule_lock(state, probe.id):
        workflow = await load(session, str(probe.id), for_update=True)
        if workflow.schedule is not None:
            old = ScheduleSpec.from_record(workflow.schedule)
            spec.created_at, spec.backfills, spec.task_queue = old.created_at, old.backfills, old.task_queue
        await _write(state, session, workflow, spec, "workflow_schedule.set", {"schedule": requested})
    return workflow


async def remove_schedule(state: AppState, session: AsyncSession, ident: str) -> None:
    probe = await load(session, ident)
    async with schedule_lock(state, probe.id):
        workflow = await load(session, str(probe.id), for_update=True)
        if workflow.schedule is None:
            raise no_schedule(workflow)
        await _write(state, session, workflow, None, "workflow_schedule.delete")


async def set_paused(state: AppState, session: AsyncSession, ident: str, paused: bool, note: str | None) -> WorkflowDefinition:
    probe = await load(session, ident)
    async with schedule_lock(state, probe.id):
        workflow = await load(session, str(probe.id), for_update=True)
        spec = spec_of(workflow)
        spec.paused = paused
        if note is not None or not paused:
            spec.note = note
        action = "workflow_schedule.pause" if paused else "workflow_schedule.unpause"
        await _write(state, session, workflow, spec, action, {"note": note})
    return workflow


async def _live(
    state: AppState, session: AsyncSession, workflow: WorkflowDefinition, spec: ScheduleSpec, paused: bool
) -> WorkflowScheduleLive | None:
    try:
        client = await state.temporal_client()
        description = await schedule_service.describe_by_id(client, workflow_schedule_id_for(workflow.id))
    except Exception as error:
        raise temporal_unavailable(error) from error
    if description is None:
        return None
    desired = build_workflow_schedule(
        spec,
        workflow_id=workflow.id,
        workflow_name=workflow.name,
        workflow_status=workflow.status,
        task_queue=spec.task_queue or state.settings.TASK_QUEUE,
        with_search_attributes=await search_attributes_registered(client, state.settings.TEMPORAL_NAMESPACE),
    )
    in_sync = (
        action_fingerprint(description.schedule) == action_fingerprint(desired)
        and bool(description.schedule.state.paused) == paused
    )
    recent = sorted(description.info.recent_actions, key=lambda action: action.started_at, reverse=True)[:RECENT_ACTIONS]
    runs: dict[str, WorkflowRun] = {}
    if recent:
        since = min(action.started_at for action in recent) - timedelta(hours=1)
        runs = await workflow_repo.workflow_runs_by_temporal_ids(
            session, workflow.id, [action.action.workflow_id for action in recent], since
        )
    return WorkflowScheduleLive(
        description=description,
        in_sync=in_sync,
        paused=bool(description.schedule.state.paused),
        recent_actions=recent,
        runs=runs,
    )


async def schedule_view(state: AppState, session: AsyncSession, workflow: WorkflowDefinition) -> WorkflowScheduleView:
    """The workflow's schedule as stored and as Temporal has it; 404 without one, 503 when Temporal does not answer."""
    spec = spec_of(workflow)
    paused, reason, _note = pause_state(spec, workflow.status, "workflow")
    live = await _live(state, session, workflow, spec, paused)
    return WorkflowScheduleView(
        workflow=workflow,
        spec=spec,
        schedule_id=workflow_schedule_id_for(workflow.id),
        paused=paused,
        pause_reason=reason,
        live=live,
    )


async def trigger_now(state: AppState, session: AsyncSession, ident: str, overlap: str | None) -> WorkflowTriggerOutcome:
    """Have the schedule start a run now, and wait a few seconds to name its workflow run."""
    workflow = await load(session, ident)
    spec_of(workflow)
    ensure_runnable(workflow)
    triggered_at = _now()
    await audit(session, "workflow_schedule.trigger", "workflow_schedule", workflow.id, details={"workflow": workflow.name})
    await session.commit()
    schedule_id = workflow_schedule_id_for(workflow.id)
    try:
        client = await state.temporal_client()
        await schedule_service.trigger_by_id(client, schedule_id, overlap)
    except Exception as error:
        raise temporal_unavailable(error) from error
    workflow_uuid = workflow.id
    result = WorkflowTriggerOutcome(workflow_id=workflow_uuid, triggered_at=triggered_at)
    deadline = asyncio.get_running_loop().time() + TRIGGER_WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        description = await schedule_service.describe_by_id(client, schedule_id)
        started = [
            action
            for action in (description.info.recent_actions if description else [])
            if action.started_at >= triggered_at - timedelta(seconds=1)
            and abs((action.scheduled_at - action.started_at).total_seconds()) < 2
        ]
        if started:
            action = max(started, key=lambda a: a.started_at).action
            result.temporal_workflow_id = action.workflow_id
            result.temporal_run_id = action.first_execution_run_id
            runs = await workflow_repo.workflow_runs_by_temporal_ids(
                session, workflow_uuid, [action.workflow_id], triggered_at - timedelta(hours=1)
            )
            run_ids = [run.id for run in runs.values()]
            await session.rollback()
            if run_ids:
                result.workflow_run_id = run_ids[0]
                break
        await asyncio.sleep(0.2)
    return result


async def _matching_times(state: AppState, workflow: WorkflowDefinition, start: datetime, end: datetime) -> list[datetime]:
    try:
        client = await state.temporal_client()
        return await schedule_service.matching_times_by_id(
            client, state.settings.TEMPORAL_NAMESPACE, workflow_schedule_id_for(workflow.id), start, end
        )
    except Exception as error:
        raise temporal_unavailable(error) from error


async def fire_times(
    state: AppState, session: AsyncSession, ident: str, start: datetime, end: datetime
) -> tuple[WorkflowDefinition, ScheduleSpec, list[datetime]]:
    """The times in [start, end] the workflow's schedule fires at, as Temporal computes them."""
    workflow = await load(session, ident)
    spec = spec_of(workflow)
    return workflow, spec, await _matching_times(state, workflow, start, end)


async def request_backfill(
    state: AppState, session: AsyncSession, ident: str, start: datetime, end: datetime, overlap: str
) -> tuple[WorkflowDefinition, dict[str, Any]]:
    """Run every fire time of [start, end] now; the stored record of the backfill request."""
    probe = await load(session, ident)
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
        workflow = await load(session, str(probe.id), for_update=True)
        spec = spec_of(workflow)
        spec.backfills = (spec.backfills + [record])[-MAX_BACKFILL_RECORDS:]
        spec.updated_at = _now().isoformat()
        await workflow_repo.set_workflow_schedule(session, workflow.id, spec.to_record())
        await audit(
            session, "workflow_schedule.backfill", "workflow_schedule", workflow.id, details={"workflow": workflow.name, **record}
        )
        await session.commit()
    try:
        client = await state.temporal_client()
        await schedule_service.backfill_by_id(client, workflow_schedule_id_for(probe.id), start, end, overlap)
    except Exception as error:
        raise temporal_unavailable(error) from error
    return probe, record


async def sync_workflow_schedule(state: AppState, workflow: WorkflowDefinition | None) -> None:
    """After a workflow's status or name changed: pause, resume or relabel its schedule.

    Failures are logged, not raised: the change stands and reconciliation repairs the schedule."""
    if workflow is None or workflow.schedule is None:
        return
    try:
        await _apply(state, workflow, ScheduleSpec.from_record(workflow.schedule))
    except Exception as error:
        logger.warning("could not update the schedule of workflow %s after a change: %s", workflow.id, error)


__all__ = [
    "WorkflowScheduleView",
    "WorkflowTriggerOutcome",
    "fire_times",
    "remove_schedule",
    "request_backfill",
    "schedule_view",
    "set_paused",
    "set_schedule",
    "sync_workflow_schedule",
    "trigger_now",
]
