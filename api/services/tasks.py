"""Tasks: create, list, change, roll back and archive them. Every change is checked (schemas,
script), audited, and carried to the task's schedule when it changes what the schedule runs."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import VERSIONED_TASK_FIELDS, Task, TaskVersion
from persistence.repository import tasks as task_repo
from persistence.repository.pagination import InvalidCursor, Page

from ..offload import off_loop
from ..problems import ProblemError, invalid_cursor, task_not_found
from ..schemas import TaskCreate, TaskUpdate
from ..state import AppState, Principal
from .auditing import audit
from .schedules import sync_task_schedule
from .schema_checks import check_json_schema_off_loop
from .scripts import compile_check
from .task_lookup import TaskRef
from .task_testing import check_on_save, samples_of
from .task_versions import PinnedVersion, pinned_version

NOT_NULLABLE = ("name", "script", "status", "cy_name", "scope", "mode", "origin_type", "test_on_save")
TESTED_FIELDS = frozenset({"script", "output_schema", "data_samples", "test_on_save"})
"""A change to one of these is tested against the task's samples when test_on_save is on."""


def _cy_name_conflict(error: Exception) -> ProblemError:
    return ProblemError(
        409,
        "cy-name-conflict",
        str(error),
        errors=[{"field": "cy_name", "in": "body", "message": "already taken"}],
    )


def _store_fields(body: TaskCreate | TaskUpdate, *, exclude_unset: bool) -> dict[str, Any]:
    data = body.model_dump(mode="json", exclude_unset=exclude_unset)
    if exclude_unset:
        for key in NOT_NULLABLE:
            if key in data and data[key] is None:
                raise ProblemError(
                    422,
                    "validation-error",
                    f"{key} cannot be null",
                    errors=[{"field": key, "in": "body", "message": "cannot be null"}],
                )
    if data.get("llm_config") is not None:
        data["llm_config"] = {k: v for k, v in data["llm_config"].items() if v is not None}
    return data


async def create_task(state: AppState, session: AsyncSession, body: TaskCreate, principal: Principal) -> Task:
    await check_json_schema_off_loop(body.input_schema, "input_schema")
    await check_json_schema_off_loop(body.output_schema, "output_schema")
    await compile_check(state, body.script)
    fields = _store_fields(body, exclude_unset=False)
    if fields.get("data_samples") is not None:
        await off_loop(samples_of, state, fields["data_samples"], "data_samples")
    if fields.get("test_on_save"):
        await check_on_save(
            state, script=body.script, output_schema=fields.get("output_schema"), data_samples=fields.get("data_samples")
        )
    name, script, cy_name = fields.pop("name"), fields.pop("script"), fields.pop("cy_name")
    try:
        task = await task_repo.create_task(
            session, name=name, script=script, cy_name=cy_name, created_by=principal.name, **fields
        )
    except task_repo.TaskNameConflict as error:
        raise _cy_name_conflict(error) from error
    await audit(session, "task.create", "task", task.id, details={"cy_name": task.cy_name, "version": task.version})
    await session.commit()
    return task


async def list_tasks(
    session: AsyncSession,
    *,
    name: str | None,
    cy_name: str | None,
    function: str | None,
    scope: str | None,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> Page[Task]:
    try:
        return await task_repo.list_tasks(
            session,
            name=name,
            cy_name=cy_name,
            function=function,
            scope=scope,
            status=status,
            cursor=cursor,
            limit=limit,
        )
    except InvalidCursor as error:
        raise invalid_cursor(error) from error


async def update_task(
    state: AppState, session: AsyncSession, ref: TaskRef, body: TaskUpdate, principal: Principal
) -> Task:
    """Apply the fields the body sets (a change to the script or execution settings makes a new version)."""
    changes = _store_fields(body, exclude_unset=True)
    if "input_schema" in changes:
        await check_json_schema_off_loop(changes["input_schema"], "input_schema")
    if "output_schema" in changes:
        await check_json_schema_off_loop(changes["output_schema"], "output_schema")
    if "script" in changes:
        await compile_check(state, changes["script"])
    if changes.get("data_samples") is not None:
        await off_loop(samples_of, state, changes["data_samples"], "data_samples")
    if TESTED_FIELDS & changes.keys():
        current = await ref.load()
        merged = {field: changes.get(field, getattr(current, field)) for field in TESTED_FIELDS}
        if merged["test_on_save"]:
            await check_on_save(
                state,
                script=merged["script"],
                output_schema=merged["output_schema"],
                data_samples=merged["data_samples"],
            )
    try:
        task = await task_repo.update_task(session, ref.ident, changes, updated_by=principal.name)
    except task_repo.TaskNotFound as error:
        raise task_not_found(ref.ident) from error
    except task_repo.TaskNameConflict as error:
        raise _cy_name_conflict(error) from error
    action = "task.status" if changes.keys() == {"status"} else "task.update"
    details = {"fields": sorted(changes), "version": task.version, "status": task.status}
    await audit(session, action, "task", task.id, details=details)
    await session.commit()
    if {"status", "cy_name"} & changes.keys():
        await sync_task_schedule(state, task)
    return task


async def archive_task(state: AppState, session: AsyncSession, task: Task) -> Task:
    """Archive the task (it can no longer run, its schedule is paused; its runs are kept)."""
    archived = await task_repo.archive_task(session, task.id)
    if archived is None:
        raise task_not_found(task.id)
    await audit(session, "task.archive", "task", archived.id, details={"cy_name": archived.cy_name})
    await session.commit()
    await sync_task_schedule(state, archived)
    return archived


async def rollback_task(
    state: AppState, session: AsyncSession, task: Task, number: int, principal: Principal
) -> Task:
    """Make a new version equal to version ``number`` (its script and execution settings)."""
    version = await pinned_version(session, task, number)
    changes = {field: getattr(version, field) for field in VERSIONED_TASK_FIELDS}
    await compile_check(state, changes["script"])
    if task.test_on_save:
        await check_on_save(
            state, script=changes["script"], output_schema=changes["output_schema"], data_samples=task.data_samples
        )
    task = await task_repo.update_task(session, task.id, changes, updated_by=principal.name)
    await audit(
        session, "task.rollback", "task", task.id, details={"to_content_of": number, "version": task.version}
    )
    await session.commit()
    return task


async def list_versions(session: AsyncSession, task: Task) -> list[TaskVersion]:
    return await task_repo.list_versions(session, task.id)


async def versions_to_compare(
    session: AsyncSession, task: Task, a: int, b: int
) -> tuple[PinnedVersion, PinnedVersion]:
    """Versions ``a`` and ``b`` of the task (404 naming the path parameter of one it lacks)."""
    old = await pinned_version(session, task, a, field="a", where="path")
    new = await pinned_version(session, task, b, field="b", where="path")
    return old, new

