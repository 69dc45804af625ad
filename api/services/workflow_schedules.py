"""A workflow's schedule: stored on the workflow row, run by a Temporal Schedule that starts
``WorkflowRunWorkflow`` (the protocol is ``services.schedule_protocol``; this module says what is
particular to workflows). Workflows are named by id or name, so each call loads one first."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, Schedule, ScheduleActionStartWorkflow

from persistence.models import WorkflowDefinition, WorkflowRun
from persistence.repository import workflows as workflow_repo
from schedules import ScheduleSpec
from schedules import service as schedule_service
from schedules.temporal import build_workflow_schedule, workflow_schedule_id_for

from ..state import AppState
from . import schedule_protocol as protocol
from .schedule_protocol import ScheduleView, TriggerOutcome, invalid_schedule
from .workflow_lookup import ensure_workflow_runnable, load_workflow


class WorkflowSchedules(protocol.ScheduleOwner):
    label = "workflow"
    audit_target = "workflow_schedule"

    def schedule_id(self, owner_id: uuid.UUID) -> str:
        return workflow_schedule_id_for(owner_id)

    def name(self, owner: WorkflowDefinition) -> str:
        return owner.name

    async def locked(self, session: AsyncSession, owner_id: uuid.UUID) -> WorkflowDefinition:
        session.expire_all()
        return await load_workflow(session, str(owner_id), for_update=True)

    async def set_row(self, session: AsyncSession, owner_id: uuid.UUID, record: dict[str, Any] | None) -> None:
        await workflow_repo.set_workflow_schedule(session, owner_id, record)

    async def input_schema(self, session: AsyncSession, owner: WorkflowDefinition, version: int | None) -> Any:
        if version is None or version == owner.version:
            return owner.input_schema
        found = await workflow_repo.get_workflow_version(session, owner.id, version)
        if found is None:
            raise invalid_schedule(
                [{"field": "version", "in": "body", "message": f"no such version (1 to {owner.version})"}]
            )
        return found.input_schema

    def ensure_runnable(self, owner: WorkflowDefinition) -> None:
        ensure_workflow_runnable(owner)

    def desired(
        self, owner: WorkflowDefinition, spec: ScheduleSpec, task_queue: str, with_search_attributes: bool
    ) -> Schedule:
        return build_workflow_schedule(
            spec,
            workflow_id=owner.id,
            workflow_name=owner.name,
            workflow_status=owner.status,
            task_queue=task_queue,
            with_search_attributes=with_search_attributes,
        )

    async def apply(self, client: Client, owner: WorkflowDefinition, spec: ScheduleSpec, state: AppState) -> None:
        await schedule_service.apply_workflow_schedule(
            client,
            workflow_id=owner.id,
            workflow_name=owner.name,
            workflow_status=owner.status,
            spec=spec,
            namespace=state.settings.TEMPORAL_NAMESPACE,
            default_task_queue=state.settings.TASK_QUEUE,
        )

    async def runs_of(
        self, session: AsyncSession, owner_id: uuid.UUID, actions: list[ScheduleActionStartWorkflow], since: datetime
    ) -> dict[str, WorkflowRun]:
        return await workflow_repo.workflow_runs_by_temporal_ids(
            session, owner_id, [action.workflow_id for action in actions], since
        )

    def action_key(self, action: ScheduleActionStartWorkflow) -> str:
        return action.workflow_id


WORKFLOWS = WorkflowSchedules()


async def load(session: AsyncSession, ident: str) -> WorkflowDefinition:
    return await load_workflow(session, ident)


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
    probe = await load(session, ident)
    return await protocol.set_schedule(
        state, session, WORKFLOWS, probe, spec, version=version, input=input, requested=requested
    )


async def remove_schedule(state: AppState, session: AsyncSession, ident: str) -> None:
    await protocol.remove_schedule(state, session, WORKFLOWS, await load(session, ident))


async def set_paused(state: AppState, session: AsyncSession, ident: str, paused: bool, note: str | None) -> WorkflowDefinition:
    return await protocol.set_paused(state, session, WORKFLOWS, await load(session, ident), paused, note)


async def schedule_view(state: AppState, session: AsyncSession, workflow: WorkflowDefinition) -> ScheduleView:
    return await protocol.schedule_view(state, session, WORKFLOWS, workflow)


async def trigger_now(state: AppState, session: AsyncSession, ident: str, overlap: str | None) -> TriggerOutcome:
    return await protocol.trigger_now(state, session, WORKFLOWS, await load(session, ident), overlap)


async def fire_times(
    state: AppState, session: AsyncSession, ident: str, start: datetime, end: datetime
) -> tuple[WorkflowDefinition, ScheduleSpec, list[datetime]]:
    """The times in [start, end] the workflow's schedule fires at, as Temporal computes them."""
    workflow = await load(session, ident)
    spec, times = await protocol.fire_times(state, WORKFLOWS, workflow, start, end)
    return workflow, spec, times


async def request_backfill(
    state: AppState, session: AsyncSession, ident: str, start: datetime, end: datetime, overlap: str
) -> tuple[WorkflowDefinition, dict[str, Any]]:
    """Run every fire time of [start, end] now; the workflow and the stored record of the request."""
    workflow = await load(session, ident)
    return workflow, await protocol.request_backfill(state, session, WORKFLOWS, workflow, start, end, overlap)


async def sync_workflow_schedule(state: AppState, workflow: WorkflowDefinition | None) -> None:
    await protocol.sync_schedule(state, WORKFLOWS, workflow)
