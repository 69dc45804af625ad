"""Runs: start them (`/v1/tasks/{id}/execute`, `/v1/tasks/execute`) and read them (`/v1/task-runs`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from ..deps import (
    MAX_WAIT_SECONDS,
    REPLAYED_HEADER,
    ClientTriggerDep,
    IdempotencyKeyHeader,
    PrincipalDep,
    SessionDep,
    StateDep,
    TaskRefDep,
)
from ..presenters import run_logs_resource, run_page, run_resource
from ..problems import problem_responses
from ..route import CytasksRoute
from ..schemas import (
    INT32_MAX,
    AdHocExecuteRequest,
    ExecuteRequest,
    Page,
    RunLogs,
    RunStatus,
    TaskRunRead,
    Trigger,
    UtcDatetime,
)
from ..services import run_cancellation, run_history
from ..services.schema_checks import validate_input_off_loop
from ..services.scripts import compile_check
from ..services.submission import Submission, submit_run
from ..services.task_lookup import ensure_runnable
from ..services.task_versions import version_to_run
from ..state import AppState

router = APIRouter(tags=["runs"], route_class=CytasksRoute)

MAX_LIMIT = 200


def _location(response: Response, run_id: object) -> None:
    response.headers["Location"] = f"/v1/task-runs/{run_id}"


WaitQuery = Annotated[
    float,
    Query(
        ge=0,
        le=MAX_WAIT_SECONDS,
        description="Wait up to this many seconds for the run to end and answer it as it is then "
        "(a short run's result in one round trip)",
    ),
]


async def _accepted(
    state: AppState, session: SessionDep, response: Response, submission: Submission, wait: float
) -> dict[str, Any]:
    if submission.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    _location(response, submission.run.id)
    run = submission.run
    if wait:
        run = await run_history.read_run(state, session, str(run.id), wait)
    return await run_resource(state, run)


@router.post(
    "/tasks/execute",
    status_code=202,
    response_model=TaskRunRead,
    summary="Run a Cy script ad hoc",
    responses=problem_responses(422, 503),
)
async def execute_adhoc(
    body: AdHocExecuteRequest,
    response: Response,
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
    client_trigger: ClientTriggerDep,
    idempotency_key: IdempotencyKeyHeader = None,
    wait: WaitQuery = 0,
) -> Any:
    await compile_check(state, body.script)
    trigger = client_trigger or Trigger.adhoc.value
    submission = await submit_run(
        state,
        session,
        principal,
        trigger=trigger,
        input=body.input,
        idempotency_key=idempotency_key,
        request_fingerprint={
            "target": "adhoc",
            "script": body.script,
            "input": body.input,
            "timeout_seconds": body.timeout_seconds,
            "trigger": trigger,
        },
        script=body.script,
        timeout_seconds=body.timeout_seconds,
    )
    return await _accepted(state, session, response, submission, wait)


@router.post(
    "/tasks/{task_id}/execute",
    status_code=202,
    response_model=TaskRunRead,
    summary="Run a saved task",
    responses=problem_responses(404, 409, 422, 503),
)
async def execute_task(
    task: TaskRefDep,
    body: ExecuteRequest,
    response: Response,
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
    client_trigger: ClientTriggerDep,
    idempotency_key: IdempotencyKeyHeader = None,
    version: Annotated[
        int | None, Query(ge=1, le=INT32_MAX, description="Run this version (default: the current one)")
    ] = None,
    wait: WaitQuery = 0,
) -> Any:
    found = await task.load()
    ensure_runnable(found)
    pinned = await version_to_run(session, found, body.version, version)
    await validate_input_off_loop(state.settings, pinned.input_schema, body.input)
    trigger = client_trigger or Trigger.api.value
    submission = await submit_run(
        state,
        session,
        principal,
        trigger=trigger,
        input=body.input,
        idempotency_key=idempotency_key,
        request_fingerprint={
            "target": str(found.id),
            "version": pinned.version,
            "input": body.input,
            "trigger": trigger,
        },
        task=found,
        pinned=pinned,
    )
    return await _accepted(state, session, response, submission, wait)


@router.get(
    "/task-runs/{run_id}",
    response_model=TaskRunRead,
    summary="Get a run",
    responses=problem_responses(404),
)
async def get_run(
    run_id: str,
    session: SessionDep,
    state: StateDep,
    wait: float = Query(
        0,
        ge=0,
        le=MAX_WAIT_SECONDS,
        description="Long poll: wait up to this many seconds for the run to reach a terminal status.",
    ),
) -> Any:
    run = await run_history.read_run(state, session, run_id, wait)
    return await run_resource(state, run)


@router.get(
    "/task-runs",
    response_model=Page[TaskRunRead],
    summary="List runs, newest first",
    responses=problem_responses(400),
)
async def list_runs(
    session: SessionDep,
    state: StateDep,
    task: Annotated[str | None, Query(description="Task id or cy_name")] = None,
    status: RunStatus | None = None,
    trigger: Trigger | None = None,
    created_after: Annotated[UtcDatetime | None, Query(description="Inclusive (ISO 8601; UTC when no offset)")] = None,
    created_before: Annotated[UtcDatetime | None, Query(description="Exclusive (ISO 8601; UTC when no offset)")] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Any:
    page = await run_history.list_runs(
        session,
        task=task,
        status=status.value if status else None,
        trigger=trigger.value if trigger else None,
        created_after=created_after,
        created_before=created_before,
        cursor=cursor,
        limit=limit,
    )
    return await run_page(state, page.items, page.next_cursor)


@router.get(
    "/task-runs/{run_id}/logs",
    response_model=RunLogs,
    summary="A run's log lines, in order",
    responses=problem_responses(404),
)
async def get_run_logs(
    run_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    after_seq: Annotated[int, Query(ge=0, le=INT32_MAX, description="Only lines after this sequence number")] = 0,
    limit: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> Any:
    run, lines = await run_history.run_logs(session, principal, run_id, after_seq=after_seq, limit=limit)
    return run_logs_resource(run, lines)


@router.post(
    "/task-runs/{run_id}/cancel",
    status_code=202,
    response_model=TaskRunRead,
    summary="Cancel a run (it ends `cancelled`)",
    responses=problem_responses(404, 409, 503),
)
async def cancel_run(
    run_id: str, response: Response, session: SessionDep, state: StateDep, principal: PrincipalDep
) -> Any:
    run = await run_cancellation.cancel_run(state, session, principal, run_id)
    _location(response, run.id)
    return await run_resource(state, run)
