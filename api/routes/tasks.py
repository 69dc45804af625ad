"""/v1/tasks: create, read, list, change, version and archive tasks."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from ..deps import PrincipalDep, SessionDep, StateDep, TaskDep, TaskRefDep, VersionPairDep
from ..presenters import page, version_diff_resource
from ..problems import problem_responses
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
from ..services import tasks as task_service

router = APIRouter(prefix="/tasks", tags=["tasks"], route_class=CytasksRoute)

MAX_LIMIT = 200


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
    "",
    status_code=201,
    response_model=TaskRead,
    summary="Create a task",
    responses=problem_responses(409, 422),
)
async def create_task(body: TaskCreate, session: SessionDep, state: StateDep, principal: PrincipalDep) -> Any:
    return await task_service.create_task(state, session, body, principal)


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
    found = await task_service.list_tasks(
        session,
        name=name,
        cy_name=cy_name,
        function=function,
        scope=scope.value if scope else None,
        status=status.value if status else None,
        cursor=cursor,
        limit=limit,
    )
    return page(found.items, found.next_cursor)


@router.get("/{task_id:task_ref}", response_model=TaskRead, summary="Get a task by id or cy_name", responses=problem_responses(404))
async def get_task(task: TaskDep) -> Any:
    return task


@router.patch(
    "/{task_id:task_ref}",
    response_model=TaskRead,
    summary="Change a task (a change to the script or execution settings makes a new version)",
    responses=problem_responses(404, 409, 422),
)
async def update_task(
    task: TaskRefDep, body: TaskUpdate, session: SessionDep, state: StateDep, principal: PrincipalDep
) -> Any:
    return await task_service.update_task(state, session, task, body, principal)


@router.get(
    "/{task_id:task_ref}/versions",
    response_model=Page[TaskVersionRead],
    summary="A task's versions, newest first",
    responses=problem_responses(404),
)
async def list_versions(task: TaskDep, session: SessionDep) -> Any:
    return page(await task_service.list_versions(session, task))


@router.delete(
    "/{task_id:task_ref}",
    response_model=TaskRead,
    summary="Archive a task (it can no longer run; its runs are kept)",
    responses=problem_responses(404),
)
async def archive_task(task: TaskDep, session: SessionDep, state: StateDep) -> Any:
    return await task_service.archive_task(state, session, task)


@router.post(
    "/{task_id:task_ref}/rollback",
    response_model=TaskRead,
    summary="Make a new version equal to an earlier one (its script and execution settings)",
    responses=problem_responses(404, 409, 422),
)
async def rollback_task(
    task: TaskRefDep, body: RollbackBody, session: SessionDep, state: StateDep, principal: PrincipalDep
) -> Any:
    return await task_service.rollback_task(state, session, await task.load(), body.version, principal)


@router.get(
    "/{task_id:task_ref}/versions/{a}/diff/{b}",
    response_model=VersionDiff,
    summary="What changed from version a to version b",
    responses=problem_responses(404, 422),
)
async def diff_versions(task: TaskRefDep, versions: VersionPairDep, session: SessionDep) -> Any:
    a, b = versions
    found = await task.load()
    old, new = await task_service.versions_to_compare(session, found, a, b)
    return version_diff_resource(found, a, b, old, new)
