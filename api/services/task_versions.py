"""A task version a request names: the run's, the schedule's, a rollback's, a diff's end."""

from __future__ import annotations

from typing import TypeAlias

from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import Task, TaskVersion
from persistence.repository import tasks as task_repo

from ..problems import ProblemError

PinnedVersion: TypeAlias = Task | TaskVersion
"""What a run executes: one of the task's versions, or the task itself for its current one."""


async def pinned_version(
    session: AsyncSession, task: Task, number: int | None, *, field: str = "version", where: str = "body"
) -> PinnedVersion:
    """The task itself (its fields are its current version) when ``number`` is None or current,
    else that version; a 422 naming ``field`` (404 for a path parameter) when there is none."""
    if number is None or number == task.version:
        return task
    version = await task_repo.get_version(session, task.id, number)
    if version is None:
        status, slug = (404, "not-found") if where == "path" else (422, "validation-error")
        raise ProblemError(
            status,
            slug,
            f"Task '{task.cy_name}' has no version {number} (its versions are 1 to {task.version})",
            errors=[{"field": field, "in": where, "message": f"no such version (1 to {task.version})"}],
        )
    return version


async def version_to_run(session: AsyncSession, task: Task, in_body: int | None, in_query: int | None) -> PinnedVersion:
    """The version to run: the one asked for (in the body or the query, not two different
    ones), else the task's current one."""
    if in_body is not None and in_query is not None and in_body != in_query:
        raise ProblemError(
            422,
            "validation-error",
            f"version {in_body} in the body and {in_query} in the query disagree",
            errors=[{"field": "version", "in": "query", "message": "differs from the body's version"}],
        )
    return await pinned_version(session, task, in_body if in_body is not None else in_query)
