"""Workflows (`/v1/workflows`) and their runs (`/v1/workflow-runs`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from ..deps import (
    MAX_WAIT_SECONDS,
    REPLAYED_HEADER,
    ClientTriggerDep,
    IdempotencyKeyHeader,
    PrincipalDep,
    SessionDep,
    StateDep,
)
from ..presenters import page, workflow_graph_resource, workflow_run_listed, workflow_run_resource
from ..problems import problem_responses
from ..route import CytasksRoute
from ..schemas import (
    INT32_MAX,
    Page,
    RunStatus,
    TaskStatus,
    Trigger,
    UtcDatetime,
    WorkflowCreate,
    WorkflowExecuteRequest,
    WorkflowGraphRead,
    WorkflowRead,
    WorkflowRunListed,
    WorkflowRunRead,
    WorkflowUpdate,
    WorkflowVersionRead,
)
from ..services import workflow_runs as run_service
from ..services import workflows as workflow_service

router = APIRouter(tags=["workflows"], route_class=CytasksRoute)

MAX_LIMIT = 200


@router.post("/workflows", status_code=201, response_model=WorkflowRead, summary="Create a workflow", responses=problem_responses(409, 422))
async def create_workflow(body: WorkflowCreate, session: SessionDep, principal: PrincipalDep) -> Any:
    return await workflow_service.create_workflow(session, body, principal)


@router.get("/workflows", response_model=Page[WorkflowRead], summary="List workflows, newest first", responses=problem_responses(400))
async def list_workflows(
    session: SessionDep,
    status: Annotated[TaskStatus | None, Query(description="Archived workflows are listed only when asked for")] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Any:
    found = await workflow_service.list_workflows(
        session, status=status.value if status else None, cursor=cursor, limit=limit
    )
    return page(found.items, found.next_cursor)


@router.get("/workflows/{workflow}", response_model=WorkflowRead, summary="Get a workflow by id or name", responses=problem_responses(404))
async def get_workflow(workflow: str, session: SessionDep) -> Any:
    return await workflow_service.load_workflow(session, workflow)


@router.patch(
    "/workflows/{workflow}",
    response_model=WorkflowRead,
    summary="Change a workflow (a changed definition makes a new version)",
    responses=problem_responses(404, 409, 422),
)
async def update_workflow(
    workflow: str, body: WorkflowUpdate, session: SessionDep, state: StateDep, principal: PrincipalDep
) -> Any:
    return await workflow_service.update_workflow(state, session, workflow, body, principal)


@router.delete(
    "/workflows/{workflow}",
    response_model=WorkflowRead,
    summary="Archive a workflow (it can no longer run; its runs are kept)",
    responses=problem_responses(404),
)
async def archive_workflow(workflow: str, session: SessionDep, state: StateDep) -> Any:
    return await workflow_service.archive_workflow(state, session, workflow)


@router.get("/workflows/{workflow}/versions", response_model=list[WorkflowVersionRead], summary="A workflow's versions, newest first", responses=problem_responses(404))
async def list_versions(workflow: str, session: SessionDep) -> Any:
    return await workflow_service.versions(session, workflow)


@router.get("/workflows/{workflow}/versions/{version}", response_model=WorkflowVersionRead, summary="One version of a workflow", responses=problem_responses(404))
async def get_version(workflow: str, version: Annotated[int, Path(ge=1, le=INT32_MAX)], session: SessionDep) -> Any:
    return await workflow_service.version(session, workflow, version)


@router.post(
    "/workflows/{workflow}/execute",
    status_code=202,
    response_model=WorkflowRunRead,
    summary="Run a workflow",
    responses=problem_responses(404, 409, 422, 503),
)
async def execute_workflow(
    workflow: str,
    body: WorkflowExecuteRequest,
    response: Response,
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
    client_trigger: ClientTriggerDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Any:
    run, replayed = await run_service.execute(
        state,
        session,
        principal,
        workflow,
        input=body.input,
        version=body.version,
        trigger=client_trigger or Trigger.api.value,
        idempotency_key=idempotency_key,
    )
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"
    response.headers["Location"] = f"/v1/workflow-runs/{run.id}"
    return await workflow_run_resource(state, session, run, just_started=not replayed)


@router.get("/workflow-runs", response_model=Page[WorkflowRunListed], summary="List workflow runs, newest first", responses=problem_responses(400, 404))
async def list_workflow_runs(
    session: SessionDep,
    workflow: Annotated[str | None, Query(description="Workflow id or name")] = None,
    status: RunStatus | None = None,
    trigger: Trigger | None = None,
    created_after: Annotated[UtcDatetime | None, Query(description="Inclusive (ISO 8601; UTC when no offset)")] = None,
    created_before: Annotated[UtcDatetime | None, Query(description="Exclusive")] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Any:
    found = await run_service.list_runs(
        session,
        workflow=workflow,
        status=[status.value] if status else None,
        trigger=[trigger.value] if trigger else None,
        created_after=created_after,
        created_before=created_before,
        cursor=cursor,
        limit=limit,
    )
    return page([workflow_run_listed(run) for run in found.items], found.next_cursor)


@router.get("/workflow-runs/{run_id}", response_model=WorkflowRunRead, summary="Get a workflow run and its nodes", responses=problem_responses(404))
async def get_workflow_run(
    run_id: str,
    session: SessionDep,
    state: StateDep,
    wait: Annotated[
        float, Query(ge=0, le=MAX_WAIT_SECONDS, description="Long poll: wait up to this many seconds for the run to end")
    ] = 0,
) -> Any:
    run = await run_service.read(state, session, run_id, wait)
    return await workflow_run_resource(state, session, run)


@router.get("/workflow-runs/{run_id}/graph", response_model=WorkflowGraphRead, summary="The run's nodes and edges, for drawing", responses=problem_responses(404))
async def get_workflow_run_graph(run_id: str, session: SessionDep, state: StateDep) -> Any:
    run = await run_service.load_workflow_run(session, run_id)
    return workflow_graph_resource(run, await run_service.node_views(state, session, run))


@router.post("/workflow-runs/{run_id}/cancel", response_model=WorkflowRunRead, summary="Cancel a workflow run and its running nodes", responses=problem_responses(403, 404, 409, 503))
async def cancel_workflow_run(run_id: str, session: SessionDep, state: StateDep, principal: PrincipalDep) -> Any:
    run = await run_service.cancel(state, session, principal, run_id)
    return await workflow_run_resource(state, session, run)
