"""Inbound webhooks: managed under `/v1/tasks/{id}/hooks`, `/v1/workflows/{id}/hooks` and
`/v1/hooks/{hook_id}`; delivered to with `POST /v1/hooks/{hook_id}` (``deliveries``, mounted
without the API-key dependency: a delivery is authenticated by the hook's own scheme)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel

from ..authz import Permission, forbidden, may
from ..deps import SessionDep, StateDep, PrincipalDep, bearer_scheme, require_api_key
from ..presenters import hook_delivery_resource, hook_resource, hook_with_secret_resource
from ..problems import problem_responses
from ..route import CytasksRoute, read_body
from ..schemas import HookCreated, HookDelivered, HookRead, HookSettings, HookUpdate
from ..services import hook_delivery
from ..services import hooks as hook_service

router = APIRouter(tags=["webhooks"], route_class=CytasksRoute)
deliveries = APIRouter(tags=["webhooks"], route_class=CytasksRoute)


class HookList(BaseModel):
    items: list[HookRead]


async def may_execute_runs(principal: PrincipalDep) -> None:
    """Who sets up a hook may start runs with any input through it: it needs runs:execute too."""
    if not may(principal, Permission.RUNS_EXECUTE):
        raise forbidden(principal, Permission.RUNS_EXECUTE)


EXECUTES = [Depends(may_execute_runs)]


@router.post(
    "/tasks/{task_id}/hooks",
    status_code=201,
    dependencies=EXECUTES,
    response_model=HookCreated,
    summary="Create a webhook that runs the task (its secret is shown only in this answer)",
    responses=problem_responses(404, 422),
)
async def create_task_hook(
    task_id: str, body: HookSettings, session: SessionDep, state: StateDep, principal: PrincipalDep
) -> Any:
    hook = await hook_service.create_for_task(session, principal, task_id, body)
    return hook_with_secret_resource(state, hook)


@router.get("/tasks/{task_id}/hooks", response_model=HookList, summary="A task's webhooks", responses=problem_responses(404))
async def list_task_hooks(task_id: str, session: SessionDep, state: StateDep) -> Any:
    return {"items": [hook_resource(state, hook) for hook in await hook_service.list_for_task(session, task_id)]}


@router.post(
    "/workflows/{workflow}/hooks",
    status_code=201,
    dependencies=EXECUTES,
    response_model=HookCreated,
    summary="Create a webhook that runs the workflow (its secret is shown only in this answer)",
    responses=problem_responses(404, 422),
)
async def create_workflow_hook(
    workflow: str, body: HookSettings, session: SessionDep, state: StateDep, principal: PrincipalDep
) -> Any:
    hook = await hook_service.create_for_workflow(session, principal, workflow, body)
    return hook_with_secret_resource(state, hook)


@router.get("/workflows/{workflow}/hooks", response_model=HookList, summary="A workflow's webhooks", responses=problem_responses(404))
async def list_workflow_hooks(workflow: str, session: SessionDep, state: StateDep) -> Any:
    return {"items": [hook_resource(state, hook) for hook in await hook_service.list_for_workflow(session, workflow)]}


@router.get("/hooks/{hook_id}", response_model=HookRead, summary="A webhook (never its secret)", responses=problem_responses(404))
async def get_hook(hook_id: str, session: SessionDep, state: StateDep) -> Any:
    return hook_resource(state, await hook_service.load_hook(session, hook_id))


@router.patch("/hooks/{hook_id}", dependencies=EXECUTES, response_model=HookRead, summary="Change a webhook's settings", responses=problem_responses(404, 422))
async def update_hook(hook_id: str, body: HookUpdate, session: SessionDep, state: StateDep) -> Any:
    return hook_resource(state, await hook_service.update(session, hook_id, body))


@router.delete("/hooks/{hook_id}", response_model=HookRead, summary="Delete a webhook (deliveries to it then answer 404)", responses=problem_responses(404))
async def delete_hook(hook_id: str, session: SessionDep, state: StateDep) -> Any:
    return hook_resource(state, await hook_service.delete(session, hook_id))


@router.post(
    "/hooks/{hook_id}/rotate-secret",
    dependencies=EXECUTES,
    response_model=HookCreated,
    summary="Give a webhook a new secret (shown only in this answer; the old one stops working)",
    responses=problem_responses(404),
)
async def rotate_hook_secret(hook_id: str, session: SessionDep, state: StateDep) -> Any:
    return hook_with_secret_resource(state, await hook_service.rotate_secret(session, hook_id))


@deliveries.post(
    "/hooks/{hook_id}",
    status_code=202,
    response_model=HookDelivered,
    summary="Deliver to a webhook: starts a run of its task or workflow with the JSON body",
    description="Signed with `X-Cytasks-Timestamp` and `X-Cytasks-Signature` (or, for a hook with "
    "`auth: api_key`, an `Authorization: Bearer` key that may execute runs); see docs/webhooks.md. "
    "202 with the started run; 200 with the first delivery's run when the hook's `dedup_key` value was "
    "delivered before.",
    responses={
        200: {"model": HookDelivered, "description": "A duplicate of an earlier delivery: no run started"},
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 503),
    },
)
async def deliver(
    hook_id: str,
    request: Request,
    response: Response,
    session: SessionDep,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Any:
    body = await read_body(request, state.settings.HOOK_MAX_BODY_BYTES)
    delivery = await hook_delivery.deliver(
        state,
        session,
        hook_id,
        body=body,
        headers=request.headers,
        client_address=request.client.host if request.client else None,
        api_key_caller=lambda: require_api_key(state, session, credentials),
    )
    response.headers["Location"] = delivery.location
    if delivery.deduplicated:
        response.status_code = 200
    return hook_delivery_resource(delivery)
