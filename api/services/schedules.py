"""A task's schedule: stored on the task row, run by a Temporal Schedule (the protocol is
``services.schedule_protocol``; this module says what is particular to tasks)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, Schedule, ScheduleActionStartWorkflow

from persistence.models import Task, TaskRun
from persistence.repository import schedules as schedule_repo
from persistence.repository import tasks as task_repo
from persistence.repository.pagination import InvalidCursor, Page
from schedules import ScheduleSpec
from schedules import service as schedule_service
from schedules.service import ReconcileReport
from schedules.temporal import build_schedule, pause_state, schedule_id_for

from ..problems import invalid_cursor, task_not_found
from ..state import AppState
from . import schedule_protocol as protocol
from .schedule_protocol import (
    ScheduleView,
    TriggerOutcome,
    check_backfill_range,
    check_time_range,
    parse_spec,
    temporal_unavailable,
)
from .task_lookup import ensure_runnable
from .task_versions import pinned_version


class TaskSchedules(protocol.ScheduleOwner):
    label = "task"
    audit_target = "schedule"

    def schedule_id(self, owner_id: uuid.UUID) -> str:
        return schedule_id_for(owner_id)

    def name(self, owner: Task) -> str:
        return owner.cy_name

    async def locked(self, session: AsyncSession, owner_id: uuid.UUID) -> Task:
        session.expire_all()
        task = await task_repo.get_task(session, str(owner_id), for_update=True)
        if task is None:
            raise task_not_found(str(owner_id))
        return task

    async def set_row(self, session: AsyncSession, owner_id: uuid.UUID, record: dict[str, Any] | None) -> None:
        await schedule_repo.set_task_schedule(session, owner_id, record)

    async def input_schema(self, session: AsyncSession, owner: Task, version: int | None) -> Any:
        return (await pinned_version(session, owner, version)).input_schema

    def ensure_runnable(self, owner: Task) -> None:
        ensure_runnable(owner)

    def desired(self, owner: Task, spec: ScheduleSpec, task_queue: str, with_search_attributes: bool) -> Schedule:
        return build_schedule(
            spec,
            task_id=owner.id,
            task_name=owner.cy_name,
            task_status=owner.status,
            task_queue=task_queue,
            with_search_attributes=with_search_attributes,
        )

    async def apply(self, client: Client, owner: Task, spec: ScheduleSpec, state: AppState) -> None:
        await schedule_service.apply_schedule(
            client,
            task_id=owner.id,
            task_name=owner.cy_name,
            task_status=owner.status,
            spec=spec,
            namespace=state.settings.TEMPORAL_NAMESPACE,
            default_task_queue=state.settings.TASK_QUEUE,
        )

    async def runs_of(
        self, session: AsyncSession, owner_id: uuid.UUID, actions: list[ScheduleActionStartWorkflow], since: datetime
    ) -> dict[str, TaskRun]:
        return await schedule_repo.runs_by_workflow_run_ids(
            session, owner_id, [action.first_execution_run_id for action in actions], since
        )

    def action_key(self, action: ScheduleActionStartWorkflow) -> str:
        return action.first_execution_run_id


TASKS = TaskSchedules()


def spec_of(task: Task) -> ScheduleSpec:
    """The task's stored schedule; 404 when it has none."""
    return TASKS.spec_of(task)


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
    return await protocol.set_schedule(state, session, TASKS, probe, spec, version=version, input=input, requested=requested)


async def remove_schedule(state: AppState, session: AsyncSession, task: Task) -> None:
    await protocol.remove_schedule(state, session, TASKS, task)


async def set_paused(state: AppState, session: AsyncSession, task: Task, paused: bool, note: str | None) -> Task:
    return await protocol.set_paused(state, session, TASKS, task, paused, note)


async def schedule_view(state: AppState, session: AsyncSession, task: Task) -> ScheduleView:
    return await protocol.schedule_view(state, session, TASKS, task)


async def trigger_now(state: AppState, session: AsyncSession, task: Task, overlap: str | None) -> TriggerOutcome:
    return await protocol.trigger_now(state, session, TASKS, task, overlap)


async def fire_times(state: AppState, task: Task, start: datetime, end: datetime) -> tuple[ScheduleSpec, list[datetime]]:
    return await protocol.fire_times(state, TASKS, task, start, end)


async def request_backfill(
    state: AppState, session: AsyncSession, task: Task, start: datetime, end: datetime, overlap: str
) -> dict[str, Any]:
    return await protocol.request_backfill(state, session, TASKS, task, start, end, overlap)


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
    """After a task's status or name changed: pause, resume or relabel its schedule (see
    ``schedule_protocol.sync_schedule``)."""
    await protocol.sync_schedule(state, TASKS, task)


__all__ = [
    "ScheduleView",
    "TriggerOutcome",
    "check_backfill_range",
    "check_time_range",
    "parse_spec",
    "pause_state",
]
