"""Finding the task a request names (by id or cy_name), and whether it may run."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import Task
from persistence.repository import tasks as task_repo

from ..problems import ProblemError, task_not_found


async def load_task(session: AsyncSession, ident: str) -> Task:
    """The task with this id or cy_name; 404 when there is none."""
    task = await task_repo.get_task(session, ident)
    if task is None:
        raise task_not_found(ident)
    return task


@dataclass(frozen=True)
class TaskRef:
    """The task a path names, found by ``load()`` when the route is ready for it (so a request
    that is invalid in other ways is answered 422 before a missing task is answered 404)."""

    ident: str
    session: AsyncSession

    async def load(self) -> Task:
        return await load_task(self.session, self.ident)


async def task_filter(session: AsyncSession, ident: str | None) -> tuple[bool, uuid.UUID | None]:
    """The task a list filter names, by id or cy_name: ``(True, id)``, ``(True, None)`` when
    there is no filter, ``(False, None)`` when no task has that cy_name (an empty page)."""
    if ident is None:
        return True, None
    try:
        return True, uuid.UUID(ident)
    except ValueError:
        found = await task_repo.get_task(session, ident)
        return (False, None) if found is None else (True, found.id)


def ensure_runnable(task: Task) -> None:
    """409 unless the task is enabled."""
    if task.status != "enabled":
        raise ProblemError(
            409,
            "task-not-runnable",
            f"Task '{task.cy_name}' is {task.status} and cannot be run",
            task_status=task.status,
        )


async def task_names(session: AsyncSession, task_ids: set[uuid.UUID]) -> dict[uuid.UUID, Task]:
    """The tasks among ``task_ids``, by id (for showing runs with their task's name)."""
    return {task.id: task for task in await task_repo.get_tasks_by_ids(session, [i for i in task_ids if i])}
