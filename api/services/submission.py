"""Submitting a run: idempotent by `Idempotency-Key`, recorded before its workflow starts, and
never left `pending` when the start fails.

A run is recorded (pending) and committed, then its workflow is started; a start that fails
marks the run failed and is answered 503. A retried request with the same key gets the first
run back, and its workflow is started then if the first request was cut off before starting it
(the start request is rebuilt from the stored run).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from persistence.ids import new_run_id
from persistence.models import Task, TaskRun
from persistence.repository import idempotency as idempotency_repo
from persistence.repository import runs as run_repo
from persistence.repository import tasks as task_repo
from persistence.repository.idempotency import IdempotencyClaim
from taskrun.contract import run_error
from taskrun.contract import TaskRunRequest

from ..problems import ProblemError
from ..state import AppState, Principal
from . import runs as run_engine
from .auditing import audit
from .run_values import run_input, store_run_input
from .schema_checks import validate_input_off_loop
from .task_versions import PinnedVersion

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class Submission:
    """The run a request made, or the one an earlier request with its Idempotency-Key made."""

    run: TaskRun
    replayed: bool


def _start_failed_error(error: Exception) -> dict[str, Any]:
    return run_error(
        "WorkflowStartFailed", f"The run's workflow could not be started: {type(error).__name__}: {error}"
    )


async def _start_or_fail(
    state: AppState,
    session: AsyncSession,
    run_id: uuid.UUID,
    request: TaskRunRequest,
    *,
    on_failure_raise: bool = True,
    only_if_missing: bool = False,
) -> None:
    """Start the workflow; when that fails the run is marked failed (never left pending) and 503 answered."""
    try:
        client = await state.temporal_client()
        if only_if_missing:
            await run_engine.ensure_started(client, state.settings, request)
        else:
            await run_engine.start_run(client, state.settings, request)
    except Exception as error:
        if await run_engine.started_despite_error(state.temporal, str(run_id)):
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


async def stored_request(state: AppState, session: AsyncSession, run: TaskRun) -> TaskRunRequest | None:
    """Rebuild a pending run's start argument (to start a workflow a crashed request never started)."""
    stored_input = await run_input(state.blob_store, run)
    if run.task_id is None:
        if run.cy_script is None:
            return None
        return TaskRunRequest.adhoc(run_id=str(run.id), script=run.cy_script, input=stored_input, trigger=run.trigger)
    task = await task_repo.get_task(session, run.task_id)
    version = await task_repo.get_version(session, run.task_id, run.task_version)
    if task is None or version is None:
        return None
    return TaskRunRequest.for_task(run_id=str(run.id), task=task, pinned=version, input=stored_input, trigger=run.trigger)


async def _replay(state: AppState, session: AsyncSession, claim: IdempotencyClaim) -> Submission:
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
        request = await stored_request(state, session, run)
        if request is not None:
            await _start_or_fail(state, session, run.id, request, on_failure_raise=False, only_if_missing=True)
            run = await run_repo.get_run(session, run.id)
    return Submission(run=run, replayed=True)


def _start_request(
    run_id: uuid.UUID,
    *,
    trigger: str,
    input: Any,
    task: Task | None,
    pinned: PinnedVersion | None,
    script: str | None,
    timeout_seconds: float | None,
) -> TaskRunRequest:
    if task is not None:
        return TaskRunRequest.for_task(run_id=str(run_id), task=task, pinned=pinned, input=input, trigger=trigger)
    return TaskRunRequest.adhoc(
        run_id=str(run_id), script=script, input=input, trigger=trigger, timeout_seconds=timeout_seconds
    )


async def submit_run(
    state: AppState,
    session: AsyncSession,
    principal: Principal,
    *,
    trigger: str,
    input: Any,
    idempotency_key: str | None,
    request_fingerprint: dict[str, Any],
    task: Task | None = None,
    pinned: PinnedVersion | None = None,
    script: str | None = None,
    timeout_seconds: float | None = None,
    idempotency_scope: str | None = None,
    run_id: uuid.UUID | None = None,
    input_schema: dict[str, Any] | None = None,
) -> Submission:
    """Record the run (pending), commit, then start its workflow. A task's run is pinned to
    ``pinned`` (a version, or the task itself for its current one); an ad-hoc run has ``script``.
    Idempotency keys are the caller's API key's unless ``idempotency_scope`` names another scope;
    ``run_id`` is the new run's id when the caller chose it (to record it in the same transaction).
    ``input_schema`` is checked after the key is claimed, so a replay answers the first run whatever
    the input; a refused input gives the claim back."""
    run_id = run_id or new_run_id()
    if idempotency_key:
        claim = await idempotency_repo.claim_idempotency_key(
            session,
            scope=idempotency_scope or f"apikey:{principal.key_id}",
            key=idempotency_key,
            request_hash=idempotency_repo.request_hash(request_fingerprint),
            run_id=run_id,
        )
        if not claim.claimed:
            await session.rollback()
            return await _replay(state, session, claim)
    try:
        await validate_input_off_loop(state.settings, input_schema, input)
    except ProblemError:
        await session.rollback()
        raise
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
    request = _start_request(
        run_id, trigger=trigger, input=input, task=task, pinned=pinned, script=script, timeout_seconds=timeout_seconds
    )
    await _start_or_fail(state, session, run_id, request)
    return Submission(run=run, replayed=False)
