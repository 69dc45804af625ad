"""Task schedules (kept in ``tasks.schedule``) and the runs their actions recorded."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import Task, TaskRun
from persistence.repository.pagination import Page, before_cursor, clamp_limit, page_from_rows

SCHEDULE_CREATOR = "schedule"
BACKFILL_CREATOR_PREFIX = "schedule:backfill:"


def backfill_creator(backfill_id: str) -> str:
    """The ``created_by`` of a run a backfill started."""
    return f"{BACKFILL_CREATOR_PREFIX}{backfill_id}"


def backfill_id_of(created_by: str | None) -> str | None:
    if created_by and created_by.startswith(BACKFILL_CREATOR_PREFIX):
        return created_by[len(BACKFILL_CREATOR_PREFIX) :]
    return None


async def set_task_schedule(session: AsyncSession, task_id: uuid.UUID, schedule: dict[str, Any] | None) -> bool:
    """Replace the task's schedule document (None removes it). Does not make a new task version."""
    statement = (
        update(Task)
        .where(Task.id == task_id)
        .values(schedule=schedule, updated_at=func.now())
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).rowcount == 1


async def list_scheduled_tasks(session: AsyncSession) -> list[Task]:
    """Every task that has a schedule document, whatever its status."""
    statement = select(Task).where(Task.schedule.is_not(None)).order_by(Task.created_at)
    return list((await session.execute(statement.execution_options(populate_existing=True))).scalars())


async def find_run_by_workflow_run(
    session: AsyncSession, task_id: uuid.UUID, workflow_run_id: str, since: datetime
) -> TaskRun | None:
    statement = select(TaskRun).where(
        TaskRun.task_id == task_id,
        TaskRun.created_at >= since,
        TaskRun.workflow_run_id == workflow_run_id,
    )
    return (await session.execute(statement)).scalars().first()


async def runs_by_workflow_run_ids(
    session: AsyncSession, task_id: uuid.UUID, workflow_run_ids: Sequence[str], since: datetime
) -> dict[str, TaskRun]:
    """The runs that the given Temporal workflow runs recorded, keyed by workflow run id."""
    if not workflow_run_ids:
        return {}
    statement = select(TaskRun).where(
        TaskRun.task_id == task_id,
        TaskRun.created_at >= since,
        TaskRun.workflow_run_id.in_(list(workflow_run_ids)),
    )
    return {run.workflow_run_id: run for run in (await session.execute(statement)).scalars()}


async def list_schedule_runs(
    session: AsyncSession,
    task_id: uuid.UUID,
    *,
    backfill: bool | None = None,
    cursor: str | None = None,
    limit: int | None = 50,
) -> Page[TaskRun]:
    """A task's runs started by its schedule, newest first; ``backfill`` keeps only (or leaves out)
    those a backfill started."""
    limit = clamp_limit(limit)
    statement = select(TaskRun).where(TaskRun.task_id == task_id, TaskRun.trigger == "schedule")
    if backfill is True:
        statement = statement.where(TaskRun.created_by.like(BACKFILL_CREATOR_PREFIX + "%"))
    elif backfill is False:
        statement = statement.where(
            (TaskRun.created_by.is_(None)) | (TaskRun.created_by.not_like(BACKFILL_CREATOR_PREFIX + "%"))
        )
    if cursor:
        statement = statement.where(before_cursor(TaskRun.created_at, TaskRun.id, cursor))
    statement = statement.order_by(TaskRun.created_at.desc(), TaskRun.id.desc()).limit(limit + 1)
    rows = list((await session.execute(statement)).scalars())
    return page_from_rows(rows, limit)


__all__ = [
    "BACKFILL_CREATOR_PREFIX",
    "SCHEDULE_CREATOR",
    "backfill_creator",
    "backfill_id_of",
    "find_run_by_workflow_run",
    "list_schedule_runs",
    "list_scheduled_tasks",
    "runs_by_workflow_run_ids",
    "set_task_schedule",
]
