"""/v1/tasks: create, read, list, change, version and archive tasks."""

from __future__ import annotations

import difflib
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from persistence.models import VERSIONED_TASK_FIELDS

from persistence.repository import tasks as task_repo
from persistence.repository.pagination import InvalidCursor

from ..services.auditing import audit
from ..deps import PrincipalDep, SessionDep, StateDep
from ..problems import ProblemError, invalid_cursor, problem_responses, task_not_found
from ..route import CytasksRoute
from ..schemas import (
    INT32_MAX,
    Page,
    TaskCreate,
    TaskRead,
    TaskScope,
    TaskStatus,
    TaskUpdate,
    TaskVersionRead,
)
from ..services.task_versions import pinned_version
from ..services.schema_checks import check_json_schema_off_loop
from ..services.scripts import compile_check

router = APIRouter(prefix="/tasks", tags=["tasks"], route_class=CytasksRoute)

MAX_LIMIT = 200
NOT_NULLABLE = ("name", "script", "status", "cy_name", "scope", "mode", "origin_type")


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


async def load_task(session: SessionDep, ident: str) -> Any:
    task = await task_repo.get_task(session, ident)
    if task is None:
        raise task_not_found(ident)
    return task


@router.post(
    "",
    status_code=201,
    response_model=TaskRead,
    summary="Create a task",
    responses=problem_responses(409, 422),
)
async def create_task(body: TaskCreate, session: SessionDep, state: StateDep, principal: PrincipalDep) -> Any:
    await check_json_schema_off_loop(body.input_schema, "input_schema")
    await check_json_schema_off_loop(body.output_schema, "output_schema")
    await compile_check(state, body.script)
    fields = _store_fields(body, exclude_unset=False)
    name, script, cy_name = fields.pop("name"), fields.pop("script"), fields.pop("cy_name")
    try:
        task = await task_repo.create_task(
            session, name=name, script=script, cy_name=cy_name, created_by=principal.name, **fields
        )
    except task_repo.TaskNameConflict as error:
        raise ProblemError(
            409,
            "cy-name-conflict",
            str(error),
            errors=[{"field": "cy_name", "in": "body", "message": "already taken"}],
        ) from error
    await audit(session, "task.create", "task", task.id, details={"cy_name": task.cy_name, "version": task.version})
    await session.commit()
    return task


@router.get("", response_model=Page[TaskRead], summary="List tasks, newest first", responses=problem_responses(400))
async def list_tasks(
    session: SessionDep,
    name: Annotated[str | None, Query(description="Case-insensitive substring of the name")] = None,
    cy_name: str | None = None,
    function: str | None = None,
    scope: TaskScope | None = None,
    status: Annotated[
        TaskStatus | None, Query(description="Archived tasks are listed only when asked for")
    ] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Any:
    try:
        page = await task_repo.list_tasks(
            session,
            name=name,
            cy_name=cy_name,
            function=function,
            scope=scope.value if scope else None,
            status=status.value if status else None,
            cursor=cursor,
            limit=limit,
        )
    except InvalidCursor as error:
        raise invalid_cursor(error) from error
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get("/{task_id:task_ref}", response_model=TaskRead, summary="Get a task by id or cy_name", responses=problem_responses(404))
async def get_task(task_id: str, session: SessionDep) -> Any:
    return await load_task(session, task_id)


@router.patch(
    "/{task_id:task_ref}",
    response_model=TaskRead,
    summary="Change a task (a change to the script or execution settings makes a new version)",
    responses=problem_responses(404, 409, 422),
)
async def update_task(
    task_id: str, body: TaskUpdate, session: SessionDep, state: StateDep, principal: PrincipalDep
) -> Any:
    changes = _store_fields(body, exclude_unset=True)
    if "input_schema" in changes:
        await check_json_schema_off_loop(changes["input_schema"], "input_schema")
    if "output_schema" in changes:
        await check_json_schema_off_loop(changes["output_schema"], "output_schema")
    if "script" in changes:
        await compile_check(state, changes["script"])
    try:
        task = await task_repo.update_task(session, task_id, changes, updated_by=principal.name)
    except task_repo.TaskNotFound as error:
        raise task_not_found(task_id) from error
    except task_repo.TaskNameConflict as error:
        raise ProblemError(
            409,
            "cy-name-conflict",
            str(error),
            errors=[{"field": "cy_name", "in": "body", "message": "already taken"}],
        ) from error
    action = "task.status" if changes.keys() == {"status"} else "task.update"
    details = {"fields": sorted(changes), "version": task.version, "status": task.status}
    await audit(session, action, "task", task.id, details=details)
    await session.commit()
    if {"status", "cy_name"} & changes.keys():
        from .schedules import sync_task_schedule

        await sync_task_schedule(state, task)
    return task


@router.get(
    "/{task_id:task_ref}/versions",
    response_model=Page[TaskVersionRead],
    summary="A task's versions, newest first",
    responses=problem_responses(404),
)
async def list_versions(task_id: str, session: SessionDep) -> Any:
    task = await load_task(session, task_id)
    versions = await task_repo.list_versions(session, task.id)
    return {"items": versions, "next_cursor": None}


@router.delete(
    "/{task_id:task_ref}",
    response_model=TaskRead,
    summary="Archive a task (it can no longer run; its runs are kept)",
    responses=problem_responses(404),
)
async def archive_task(task_id: str, session: SessionDep, state: StateDep) -> Any:
    task = await task_repo.archive_task(session, task_id)
    if task is None:
        raise task_not_found(task_id)
    await audit(session, "task.archive", "task", task.id, details={"cy_name": task.cy_name})
    await session.commit()
    from .schedules import sync_task_schedule

    await sync_task_schedule(state, task)  # an archived task's schedule is paused
    return task


class RollbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=INT32_MAX, description="The version whose content becomes the new current version")


class VersionDiff(BaseModel):
    task_id: uuid.UUID
    from_version: int
    to_version: int
    script_diff: str = Field(description="Unified diff of the scripts (empty when they are equal)")
    changes: dict[str, dict[str, Any]] = Field(
        description="Every other versioned field that differs: `{field: {from, to}}`"
    )


@router.post(
    "/{task_id:task_ref}/rollback",
    response_model=TaskRead,
    summary="Make a new version equal to an earlier one (its script and execution settings)",
    responses=problem_responses(404, 409, 422),
)
async def rollback_task(
    task_id: str, body: RollbackBody, session: SessionDep, state: StateDep, principal: PrincipalDep
) -> Any:
    task = await load_task(session, task_id)
    version = await pinned_version(session, task, body.version)
    changes = {field: getattr(version, field) for field in VERSIONED_TASK_FIELDS}
    await compile_check(state, changes["script"])
    task = await task_repo.update_task(session, task.id, changes, updated_by=principal.name)
    await audit(
        session, "task.rollback", "task", task.id, details={"to_content_of": body.version, "version": task.version}
    )
    await session.commit()
    return task


@router.get(
    "/{task_id:task_ref}/versions/{a}/diff/{b}",
    response_model=VersionDiff,
    summary="What changed from version a to version b",
    responses=problem_responses(404, 422),
)
async def diff_versions(
    task_id: str,
    a: Annotated[int, Path(ge=1, le=INT32_MAX)],
    b: Annotated[int, Path(ge=1, le=INT32_MAX)],
    session: SessionDep,
) -> Any:
    task = await load_task(session, task_id)
    old = await pinned_version(session, task, a, field="a", where="path")
    new = await pinned_version(session, task, b, field="b", where="path")
    script_diff = "".join(
        difflib.unified_diff(
            old.script.splitlines(keepends=True),
            new.script.splitlines(keepends=True),
            fromfile=f"{task.cy_name} v{a}",
            tofile=f"{task.cy_name} v{b}",
        )
    )
    changes = {
        field: {"from": getattr(old, field), "to": getattr(new, field)}
        for field in VERSIONED_TASK_FIELDS
        if field != "script" and getattr(old, field) != getattr(new, field)
    }
    return {"task_id": task.id, "from_version": a, "to_version": b, "script_diff": script_diff, "changes": changes}
