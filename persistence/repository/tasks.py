"""Tasks and their immutable versions."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.ids import new_uuid7
from persistence.models import VERSIONED_TASK_FIELDS, Task, TaskVersion
from persistence.repository.pagination import Page, before_cursor, clamp_limit, page_from_rows

EDITABLE_TASK_FIELDS = frozenset(
    {
        "name",
        "description",
        "directive",
        "function",
        "scope",
        "mode",
        "status",
        "origin_type",
        "integration_id",
        "managed_resource_key",
        "script",
        "input_schema",
        "output_schema",
        "data_samples",
        "llm_config",
        "timeout_seconds",
        "max_concurrency",
        "schedule",
        "test_on_save",
    }
)
_CY_NAME_INVALID = re.compile(r"[^a-z0-9_]+")


class TaskNotFound(LookupError):
    pass


class TaskNameConflict(ValueError):
    """The requested cy_name is already taken."""


def cy_name_from(name: str) -> str:
    """An identifier derived from a display name: 'Summarize Alert (v2)' -> 'summarize_alert_v2'."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ident = _CY_NAME_INVALID.sub("_", ascii_name.lower()).strip("_")
    if not ident:
        ident = "task"
    if ident[0].isdigit():
        ident = "task_" + ident
    return ident[:100]


async def _unique_cy_name(session: AsyncSession, base: str) -> str:
    taken = set(
        (
            await session.execute(
                select(Task.cy_name).where(
                    (Task.cy_name == base) | Task.cy_name.like(base.replace("_", r"\_") + r"\_%")
                )
            )
        ).scalars()
    )
    if base not in taken:
        return base
    suffix = 2
    while f"{base}_{suffix}" in taken:
        suffix += 1
    return f"{base}_{suffix}"


def _version_row(task: Task, created_by: str | None) -> TaskVersion:
    return TaskVersion(
        task_id=task.id,
        version=task.version,
        script=task.script,
        directive=task.directive,
        input_schema=task.input_schema,
        output_schema=task.output_schema,
        llm_config=task.llm_config,
        timeout_seconds=task.timeout_seconds,
        created_by=created_by,
    )


async def create_task(
    session: AsyncSession,
    *,
    name: str,
    script: str,
    cy_name: str | None = None,
    created_by: str | None = None,
    **fields: Any,
) -> Task:
    """Insert a task at version 1 with its first version row.

    Without `cy_name` one is derived from `name` and made unique; an explicit `cy_name` that is
    taken raises TaskNameConflict."""
    unknown = set(fields) - EDITABLE_TASK_FIELDS
    if unknown:
        raise TypeError(f"unknown task fields: {sorted(unknown)}")
    explicit = cy_name is not None
    for _ in range(5):
        chosen = cy_name if explicit else await _unique_cy_name(session, cy_name_from(name))
        task = Task(
            id=new_uuid7(),
            name=name,
            cy_name=chosen,
            script=script,
            version=1,
            created_by=created_by,
            **fields,
        )
        try:
            async with session.begin_nested():
                session.add(task)
                await session.flush()
        except IntegrityError as err:
            if "uq_tasks_cy_name" not in str(err.orig):
                raise
            if explicit:
                raise TaskNameConflict(f"a task named {cy_name!r} already exists") from err
            continue
        session.add(_version_row(task, created_by))
        await session.flush()
        await session.refresh(task)
        return task
    raise TaskNameConflict(f"could not find a free cy_name for {name!r}")


def _as_uuid(value: str | uuid.UUID) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError):
        return None


async def get_task(session: AsyncSession, id_or_cy_name: str | uuid.UUID, *, for_update: bool = False) -> Task | None:
    """A task by its id or its cy_name."""
    task_id = _as_uuid(id_or_cy_name)
    condition = Task.id == task_id if task_id is not None else Task.cy_name == str(id_or_cy_name)
    statement = select(Task).where(condition)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


get_task_by_id_or_cy_name = get_task


async def get_tasks_by_ids(session: AsyncSession, task_ids: list[uuid.UUID]) -> list[Task]:
    """The tasks among ``task_ids`` that exist."""
    if not task_ids:
        return []
    return list((await session.execute(select(Task).where(Task.id.in_(task_ids)))).scalars())


async def list_tasks(
    session: AsyncSession,
    *,
    name: str | None = None,
    cy_name: str | None = None,
    function: str | None = None,
    scope: str | None = None,
    status: str | list[str] | None = None,
    include_archived: bool = False,
    cursor: str | None = None,
    limit: int | None = 50,
) -> Page[Task]:
    """Newest first. `name` matches case-insensitively anywhere in the name. Archived tasks are
    left out unless asked for by `status` or `include_archived`."""
    limit = clamp_limit(limit)
    statement = select(Task)
    if name:
        escaped = name.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        statement = statement.where(Task.name.ilike(f"%{escaped}%"))
    if cy_name:
        statement = statement.where(Task.cy_name == cy_name)
    if function:
        statement = statement.where(Task.function == function)
    if scope:
        statement = statement.where(Task.scope == scope)
    if status:
        statuses = [status] if isinstance(status, str) else list(status)
        statement = statement.where(Task.status.in_(statuses))
    elif not include_archived:
        statement = statement.where(Task.status != "archived")
    if cursor:
        statement = statement.where(before_cursor(Task.created_at, Task.id, cursor))
    statement = statement.order_by(Task.created_at.desc(), Task.id.desc()).limit(limit + 1)
    rows = list((await session.execute(statement)).scalars())
    return page_from_rows(rows, limit)


async def update_task(
    session: AsyncSession,
    id_or_cy_name: str | uuid.UUID,
    changes: Mapping[str, Any],
    *,
    updated_by: str | None = None,
) -> Task:
    """Apply `changes`; when a field in VERSIONED_TASK_FIELDS changes value, bump the version and
    write the new immutable version row. Concurrent updates of one task are serialized."""
    unknown = set(changes) - EDITABLE_TASK_FIELDS - {"cy_name"}
    if unknown:
        raise TypeError(f"unknown task fields: {sorted(unknown)}")
    task = await get_task(session, id_or_cy_name, for_update=True)
    if task is None:
        raise TaskNotFound(str(id_or_cy_name))
    effective = {key: value for key, value in changes.items() if getattr(task, key) != value}
    if not effective:
        return task
    new_version = any(key in VERSIONED_TASK_FIELDS for key in effective)
    for key, value in effective.items():
        setattr(task, key, value)
    if new_version:
        task.version += 1
    task.updated_at = func.now()
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as err:
        if "uq_tasks_cy_name" in str(err.orig):
            raise TaskNameConflict(f"a task named {changes.get('cy_name')!r} already exists") from err
        raise
    if new_version:
        session.add(_version_row(task, updated_by))
        await session.flush()
    await session.refresh(task)
    return task


async def list_versions(session: AsyncSession, task_id: uuid.UUID) -> list[TaskVersion]:
    """All versions of a task, newest first."""
    statement = (
        select(TaskVersion).where(TaskVersion.task_id == task_id).order_by(TaskVersion.version.desc())
    )
    return list((await session.execute(statement)).scalars())


async def get_version(session: AsyncSession, task_id: uuid.UUID, version: int) -> TaskVersion | None:
    return await session.get(TaskVersion, (task_id, version))


async def archive_task(session: AsyncSession, id_or_cy_name: str | uuid.UUID) -> Task | None:
    """Set the task's status to archived (its runs are kept). None when there is no such task."""
    task_id = _as_uuid(id_or_cy_name)
    condition = Task.id == task_id if task_id is not None else Task.cy_name == str(id_or_cy_name)
    statement = (
        update(Task)
        .where(condition)
        .values(status="archived", updated_at=func.now())
        .returning(Task)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()
