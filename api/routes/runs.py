"""Runs: start them (`/v1/tasks/{id}/execute`, `/v1/tasks/execute`) and read them (`/v1/task-runs`)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.ids import new_run_id
from workflows.types import TaskRunRequest
from persistence.repository import idempotency as idempotency_repo
from persistence.repository import runs as run_repo
from persistence.repository import tasks as task_repo
from persistence.repository.pagination import InvalidCursor
from persistence.repository.runs import RunQueryTooBroad
from persistence.repository.schedules import backfill_id_of

from ..services import run_reconciliation
from ..services import runs as runs_service
from ..services.auditing import audit
from ..authz import Permission, current_principal, forbidden, may_cancel, sees_payloads
from ..deps import AppState, ClientTriggerDep, Principal, PrincipalDep, SessionDep, StateDep
from ..problems import ProblemError, not_found, problem_responses
from ..route import CytasksRoute
from ..schemas import (
    INT32_MAX,
    TERMINAL_STATUSES,
    AdHocExecuteRequest,
    ExecuteRequest,
    Page,
    RunLogs,
    RunStatus,
    TaskRunRead,
    Trigger,
    UtcDatetime,
)
from ..services.task_versions import pinned_version
from ..services.schema_checks import validate_input_off_loop
from ..services.run_values import load_stored, store_run_input
from .tasks import compile_check, invalid_cursor, task_id_filter, task_not_found

logger = logging.getLogger(__name__)

router = APIRouter(tags=["runs"], route_class=CytasksRoute)

MAX_LIMIT = 200
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_HEADER,
        max_length=255,
        description="Retrying with the same key returns the run the first request created",
    ),
]


def run_not_found(run_id: Any) -> ProblemError:
    return not_found(f"No task run with id '{run_id}'")


async def run_resource(state: AppState, run: Any) -> dict[str, Any]:
    """The run as the API shows it, with input and output read back from where they are stored
    (when the caller may read them)."""
    store = state.blob_store
    principal = current_principal.get()
    visible = principal is None or sees_payloads(principal, run)
    output = run_input = None
    if visible and run.output_storage is not None:
        output = await load_stored(store, run.output_storage, run.output_inline, run.output_ref)
    if visible:
        run_input = await load_stored(store, run.input_storage, run.input_inline, run.input_ref)
    return {
        "id": run.id,
        "task_id": run.task_id,
        "task_version": run.task_version,
        "status": run.status,
        "waiting_reason": run.waiting_reason if run.status == "pending" else None,
        "trigger": run.trigger,
        "input": run_input,
        "output": output,
        "error": run.error,
        "logs_count": run.logs_count or 0,
        "llm_usage": run.llm_usage,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "completed_at": run.completed_at,
        "duration_ms": run.duration_ms,
        "workflow_id": run.workflow_id,
        "scheduled_time": run.scheduled_time,
        "backfill_id": backfill_id_of(run.created_by),
        "created_by": run.created_by,
        "payloads_visible": visible,
    }


def _accepted(response: Response, run_id: Any) -> None:
    response.headers["Location"] = f"/v1/task-runs/{run_id}"


def _start_failed_error(error: Exception) -> dict[str, Any]:
    return {
        "type": "WorkflowStartFailed",
        "message": f"The run's workflow could not be started: {type(error).__name__}: {error}",
        "line": 0,
        "column": 0,
    }


async def _start_or_fail(
    state: AppState,
    session: AsyncSession,
    run_id: uuid.UUID,
    request: Any,
    *,
    on_failure_raise: bool = True,
    only_if_missing: bool = False,
) -> None:
    """Start the workflow; when that fails the run is marked failed (never left pending) and 503 answered."""
    try:
        client = await state.temporal_client()
        if only_if_missing:
            await runs_service.ensure_started(client, state.settings, request)
        else:
            await runs_service.start_run(client, state.settings, request)
    except Exception as error:
        if await runs_service.started_despite_error(state.temporal, str(run_id)):
            logger.info("starting run %s reported %r but its workflow exists", run_id, error)
            return
        logger.warning("starting the workflow of run %s failed: %s", run_id, error)
        await run_repo.finish_run(session, run_id, status="failed", error=_start_failed_error(error))
        await session.commit()
        if on_failure_raise:
            raise ProblemError(
                503,
                "workflow-start-failed",
                f"The run was recorded but its workflow could not be started ({type(error).__name__}); "
                "it has been marked failed",
                run_id=str(run_id),
                headers={"Retry-After": "5"},
            ) from error


async def _pinned_request(state: AppState, session: AsyncSession, run: Any) -> Any | None:
    """Rebuild a pending run's start argument (to start a workflow a crashed request never started)."""
    stored_input = await load_stored(state.blob_store, run.input_storage, run.input_inline, run.input_ref)
    if run.task_id is None:
        if run.cy_script is None:
            return None
        return TaskRunRequest.adhoc(run_id=str(run.id), script=run.cy_script, input=stored_input, trigger=run.trigger)
    task = await task_repo.get_task(session, run.task_id)
    version = await task_repo.get_version(session, run.task_id, run.task_version)
    if task is None or version is None:
        return None
    return TaskRunRequest.for_task(run_id=str(run.id), task=task, pinned=version, input=stored_input, trigger=run.trigger)


async def _replay(
    state: AppState, session: AsyncSession, claim: Any, response: Response
) -> dict[str, Any]:
    if not claim.request_matches:
        raise ProblemError(
            422,
            "idempotency-key-reused",
            "This Idempotency-Key was first used with a different request; use a new key for a new request",
            errors=[{"field": IDEMPOTENCY_HEADER, "in": "header", "message": "already used for another request"}],
            run_id=str(claim.run_id),
        )
    run = await run_repo.get_run(session, claim.run_id)
    if run is None:
        raise ProblemError(
            409,
            "conflict",
            f"This Idempotency-Key refers to run {claim.run_id}, which no longer exists",
        )
    if run.status == "pending":
        request = await _pinned_request(state, session, run)
        if request is not None:
            await _start_or_fail(state, session, run.id, request, on_failure_raise=False, only_if_missing=True)
            run = await run_repo.get_run(session, run.id)
    response.headers[REPLAYED_HEADER] = "true"
    _accepted(response, run.id)
    return await run_resource(state, run)


async def submit_run(
    state: AppState,
    session: AsyncSession,
    response: Response,
    principal: Principal,
    *,
    trigger: str,
    input: Any,
    idempotency_key: str | None,
    request_fingerprint: dict[str, Any],
    task: Any | None = None,
    pinned: Any | None = None,
    script: str | None = None,
    timeout_seconds: float | None = None,
) -> dict[str, Any]:
    """Record the run (pending), commit, then start its workflow. A task's run is pinned to
    ``pinned`` (a version, or the task itself for its current one); an ad-hoc run has ``script``."""
    run_id = new_run_id()
    if idempotency_key:
        claim = await idempotency_repo.claim_idempotency_key(
            session,
            scope=f"apikey:{principal.key_id}",
            key=idempotency_key,
            request_hash=idempotency_repo.request_hash(request_fingerprint),
            run_id=run_id,
        )
        if not claim.claimed:
            await session.rollback()
            return await _replay(state, session, claim, response)
    stored_input = await store_run_input(state.settings, state.blob_store, run_id, input)
    run = await run_repo.create_run(
        session,
        run_id=run_id,
        trigger=trigger,
        task_id=task.id if task is not None else None,
        task_version=pinned.version if task is not None else None,
        cy_script=None if task is not None else script,
        created_by=principal.name,
        **stored_input,
    )
    await audit(
        session,
        "run.execute",
        "run",
        run_id,
        details={"task": task.cy_name if task is not None else None, "trigger": trigger},
    )
    await session.commit()
    if task is not None:
        request = TaskRunRequest.for_task(run_id=str(run_id), task=task, pinned=pinned, input=input, trigger=trigger)
    else:
        request = TaskRunRequest.adhoc(
            run_id=str(run_id), script=script, input=input, trigger=trigger, timeout_seconds=timeout_seconds
        )
    await _start_or_fail(state, session, run_id, request)
    _accepted(response, run_id)
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
) -> Any:
    await compile_check(state, body.script)
    trigger = client_trigger or Trigger.adhoc.value
    return await submit_run(
        state,
        session,
        response,
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


@router.post(
    "/tasks/{task_id}/execute",
    status_code=202,
    response_model=TaskRunRead,
    summary="Run a saved task",
    responses=problem_responses(404, 409, 422, 503),
)
async def execute_task(
    task_id: str,
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
) -> Any:
    task = await task_repo.get_task(session, task_id)
    if task is None:
        raise task_not_found(task_id)
    if task.status != "enabled":
        raise ProblemError(
            409,
            "task-not-runnable",
            f"Task '{task.cy_name}' is {task.status} and cannot be run",
            task_status=task.status,
        )
    pinned = await _pinned_version(session, task, body.version, version)
    await validate_input_off_loop(state.settings, pinned.input_schema, body.input)
    trigger = client_trigger or Trigger.api.value
    return await submit_run(
        state,
        session,
        response,
        principal,
        trigger=trigger,
        input=body.input,
        idempotency_key=idempotency_key,
        request_fingerprint={
            "target": str(task.id),
            "version": pinned.version,
            "input": body.input,
            "trigger": trigger,
        },
        task=task,
        pinned=pinned,
    )


async def _pinned_version(session: AsyncSession, task: Any, in_body: int | None, in_query: int | None) -> Any:
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


MAX_WAIT_SECONDS = 60


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
    run = await run_repo.get_run(session, run_id)
    if run is None:
        raise run_not_found(run_id)
    run = await run_reconciliation.reconcile_run(state, session, run)
    if wait and run.status not in TERMINAL_STATUSES and run.workflow_id:
        workflow_id = run.workflow_id
        session.expunge_all()
        await session.rollback()  # give the connection back while waiting
        await runs_service.wait_for_workflow(state, workflow_id, wait)
        run = await run_repo.get_run(session, run_id)
        run = await run_reconciliation.reconcile_run(state, session, run)
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
    known, task_uuid = await task_id_filter(session, task)
    if not known:
        return {"items": [], "next_cursor": None}
    try:
        page = await run_repo.list_runs(
            session,
            task_id=task_uuid,
            status=status.value if status else None,
            trigger=trigger.value if trigger else None,
            created_after=created_after,
            created_before=created_before,
            cursor=cursor,
            limit=limit,
        )
    except InvalidCursor as error:
        raise invalid_cursor(error) from error
    except RunQueryTooBroad as error:
        raise ProblemError(
            422,
            "query-too-broad",
            str(error),
            errors=[{"field": "created_after", "in": "query", "message": "narrow the listing with a time range or a task"}],
        ) from error
    return {"items": [await run_resource(state, run) for run in page.items], "next_cursor": page.next_cursor}


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
    run = await run_repo.get_run(session, run_id)
    if run is None:
        raise run_not_found(run_id)
    if not sees_payloads(principal, run):
        raise forbidden(
            principal,
            Permission.RUNS_PAYLOADS,
            f"API key '{principal.name}' may not read the logs of run {run.id}: that needs the payloads role "
            "(or being the runner that started it)",
        )
    lines = await run_repo.get_logs(session, run.id, after_seq=after_seq, limit=limit)
    return {
        "run_id": run.id,
        "items": [{"seq": line.seq, "message": line.message, "created_at": line.ts} for line in lines],
    }


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
    run = await run_repo.get_run(session, run_id)
    if run is None:
        raise run_not_found(run_id)
    if not may_cancel(principal, run):
        raise forbidden(
            principal,
            Permission.RUNS_CANCEL,
            f"API key '{principal.name}' may cancel only the runs it started; run {run.id} was "
            f"started by {run.created_by or 'someone else'} (an admin may cancel any run)",
        )
    if run.status in TERMINAL_STATUSES:
        raise ProblemError(
            409,
            "run-not-cancellable",
            f"Run {run.id} is already {run.status}",
            run_status=run.status,
        )
    await audit(session, "run.cancel", "run", run.id, details={"status": run.status})
    await session.commit()
    run = await run_reconciliation.cancel_run(state, session, run)
    response.headers["Location"] = f"/v1/task-runs/{run.id}"
    return await run_resource(state, run)
