"""Workflow runs: started (idempotently, task versions pinned), read with their nodes, listed,
cancelled. Like task runs, a run is recorded before its workflow starts and never left
``pending`` when the start fails."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from graphs.definition import parse_graph
from persistence.ids import new_run_id
from persistence.models import TaskRun, WorkflowDefinition, WorkflowRun
from persistence.repository import idempotency as idempotency_repo
from persistence.repository import questions as question_repo
from persistence.repository import workflows as workflow_repo
from persistence.repository.pagination import InvalidCursor, Page
from taskrun.contract import TERMINAL_RUN_STATUSES, WorkflowRunRequest, run_error

from ..authz import Permission, forbidden, may_cancel
from ..problems import ProblemError, invalid_cursor, not_found
from ..state import AppState, Principal
from . import runs as run_engine
from .auditing import audit
from .run_values import load_stored, store_run_input
from .schema_checks import validate_input_off_loop
from .task_lookup import ensure_runnable
from .workflow_lookup import ensure_workflow_runnable, load_workflow, workflow_not_found
from .workflows import resolve_tasks

logger = logging.getLogger(__name__)


def workflow_run_not_found(run_id: str) -> ProblemError:
    return not_found(f"No workflow run with id '{run_id}'")


async def load_workflow_run(session: AsyncSession, run_id: str) -> WorkflowRun:
    run = await workflow_repo.get_workflow_run(session, run_id)
    if run is None:
        raise workflow_run_not_found(run_id)
    return run


async def _pinned_definition(session: AsyncSession, workflow: WorkflowDefinition, version: int | None) -> Any:
    if version is None or version == workflow.version:
        return workflow
    found = await workflow_repo.get_workflow_version(session, workflow.id, version)
    if found is None:
        raise ProblemError(
            422,
            "validation-error",
            f"Workflow '{workflow.name}' has no version {version} (its versions are 1 to {workflow.version})",
            errors=[{"field": "version", "in": "body", "message": f"no such version (1 to {workflow.version})"}],
        )
    return found


async def _start_request(session: AsyncSession, run_id: uuid.UUID, definition: Any, input: Any, trigger: str) -> WorkflowRunRequest:
    """The pinned graph and each task node's request; 409 when a node's task may not run."""
    graph = parse_graph(definition.nodes, definition.edges)
    tasks = await resolve_tasks(session, graph)
    for task, _ in tasks.values():
        ensure_runnable(task)
    return workflow_repo.workflow_run_request(run_id, definition, graph, tasks, input, trigger)


pinned_graph = workflow_repo.pinned_graph


async def execute(
    state: AppState,
    session: AsyncSession,
    principal: Principal,
    ident: str,
    *,
    input: Any,
    version: int | None,
    trigger: str,
    idempotency_key: str | None,
    idempotency_scope: str | None = None,
    request_fingerprint: dict[str, Any] | None = None,
    run_id: uuid.UUID | None = None,
) -> tuple[WorkflowRun, bool]:
    """Record the run, commit, start its workflow. Answers the run and whether it is the one
    an earlier request with the same Idempotency-Key made (keys are the caller's API key's
    unless ``idempotency_scope`` names another scope)."""
    workflow = await load_workflow(session, ident)
    ensure_workflow_runnable(workflow)
    definition = await _pinned_definition(session, workflow, version)
    run_id = run_id or new_run_id()
    if idempotency_key:
        claim = await idempotency_repo.claim_idempotency_key(
            session,
            scope=idempotency_scope or f"apikey:{principal.key_id}:workflow",
            key=idempotency_key,
            request_hash=idempotency_repo.request_hash(
                request_fingerprint
                or {"workflow": str(workflow.id), "version": definition.version, "input": input, "trigger": trigger}
            ),
            run_id=run_id,
        )
        if not claim.claimed:
            await session.rollback()
            if not claim.request_matches:
                raise ProblemError(
                    422,
                    "idempotency-key-reused",
                    "This Idempotency-Key was first used with a different request; use a new key for a new request",
                    errors=[{"field": "Idempotency-Key", "in": "header", "message": "already used for another request"}],
                )
            return await load_workflow_run(session, str(claim.run_id)), True
    # Checked after the claim, so a replay answers the first run whatever the input.
    try:
        await validate_input_off_loop(state.settings, definition.input_schema, input)
    except ProblemError:
        await session.rollback()
        raise
    request = await _start_request(session, run_id, definition, input, trigger)
    stored = await store_run_input(state.settings, state.blob_store, run_id, input)
    run = await workflow_repo.create_workflow_run(
        session,
        run_id=run_id,
        workflow=definition,
        workflow_id=workflow.id,
        trigger=trigger,
        graph=pinned_graph(request),
        created_by=principal.name,
        **stored,
    )
    await audit(session, "workflow_run.execute", "workflow_run", run_id, details={"workflow": workflow.name, "trigger": trigger})
    await session.commit()
    try:
        client = await state.temporal_client()
        request.track_status = await run_engine.search_attributes_ready(client, state.settings)
        await run_engine.start_workflow_run(client, state.settings, request, run.temporal_workflow_id)
    except Exception as error:
        logger.warning("starting workflow run %s failed: %s", run_id, error)
        await workflow_repo.finish_workflow_run(
            session,
            run_id,
            status="failed",
            error=run_error("WorkflowStartFailed", f"The run's workflow could not be started: {type(error).__name__}: {error}"),
        )
        await session.commit()
        raise ProblemError(
            503,
            "workflow-start-failed",
            f"The workflow run was recorded but could not be started ({type(error).__name__}); it has been marked failed",
            run_id=str(run_id),
            headers={"Retry-After": "5"},
        ) from error
    return run, False


async def read(state: AppState, session: AsyncSession, run_id: str, wait: float) -> WorkflowRun:
    with run_engine.watching(state.run_ends if wait else None, "workflow", run_id) as ended:
        run = await load_workflow_run(session, run_id)
        if not wait or run.status in TERMINAL_RUN_STATUSES or not run.temporal_workflow_id:
            return run
        return await run_engine.wait_for_end(
            state.run_ends,
            ended,
            state.temporal_client,
            run.temporal_workflow_id,
            wait,
            session,
            lambda: load_workflow_run(session, run_id),
        )


async def node_views(
    state: AppState, session: AsyncSession, run: WorkflowRun, *, just_started: bool = False
) -> list[dict[str, Any]]:
    """Each node as the run shows it: its status (a node run's own status while it is
    paused or running), timings, task runs, error, and the pending question of a paused one.
    A run ``just_started`` is not asked for its live node states (they are all pending)."""
    recorded: dict[str, Any] = dict(run.nodes or {})
    if just_started:
        return [_pending_view(node) for node in (run.graph or {}).get("nodes", [])]
    if not run.is_terminal and run.temporal_workflow_id:
        recorded = await run_engine.workflow_run_nodes(state.temporal_client, run.temporal_workflow_id) or recorded
    children = await workflow_repo.node_runs(session, run)
    by_node: dict[str, list[TaskRun]] = {}
    for child in children:
        node_id = (child.workflow_node_instance_id or "").split("[", 1)[0]
        by_node.setdefault(node_id, []).append(child)
    views = []
    for node in (run.graph or {}).get("nodes", []):
        state_of = recorded.get(node["id"], {})
        runs = by_node.get(node["id"], [])
        status = state_of.get("status", "pending")
        if status == "running" and any(child.status == "paused" for child in runs):
            status = "paused"
        view: dict[str, Any] = {
            "node_id": node["id"],
            "kind": node.get("kind", "task"),
            "task": node.get("task"),
            "task_version": node.get("task_version"),
            "status": status,
            "continued": bool(state_of.get("continued")),
            "task_run_id": str(runs[0].id) if len(runs) == 1 else None,
            "task_run_ids": [str(child.id) for child in runs],
            "started_at": state_of.get("started_at"),
            "completed_at": state_of.get("completed_at"),
            "duration_ms": state_of.get("duration_ms"),
            "llm_usage": state_of.get("llm_usage") or None,
            "error": state_of.get("error"),
            "question": None,
        }
        paused = [child for child in runs if child.status == "paused"]
        if paused:
            question = await question_repo.open_question_of_run(session, paused[0].id)
            if question is not None:
                view["question"] = {
                    "id": str(question.id),
                    "run_id": str(question.run_id),
                    "question": question.question,
                    "responses": question.responses,
                    "form": question.form,
                    "assignees": question.assignees,
                    "timeout_at": question.timeout_at,
                    "has_default": question.has_default,
                    "default": question.default,
                }
        views.append(view)
    return views


def _pending_view(node: dict[str, Any]) -> dict[str, Any]:
    return {
        "node_id": node["id"],
        "kind": node.get("kind", "task"),
        "task": node.get("task"),
        "task_version": node.get("task_version"),
        "status": "pending",
        "continued": False,
        "task_run_id": None,
        "task_run_ids": [],
        "started_at": None,
        "completed_at": None,
        "duration_ms": None,
        "llm_usage": None,
        "error": None,
        "question": None,
    }


async def values(state: AppState, run: WorkflowRun) -> tuple[Any, Any]:
    input_value = await load_stored(state.blob_store, run.input_storage, run.input_inline, run.input_ref)
    output = None
    if run.output_storage is not None:
        output = await load_stored(state.blob_store, run.output_storage, run.output_inline, run.output_ref)
    return input_value, output


async def list_runs(
    session: AsyncSession,
    *,
    workflow: str | None,
    status: list[str] | None,
    trigger: list[str] | None,
    created_after: datetime | None,
    created_before: datetime | None,
    cursor: str | None,
    limit: int,
) -> Page[WorkflowRun]:
    workflow_id = None
    if workflow is not None:
        found = await workflow_repo.get_workflow(session, workflow)
        if found is None:
            raise workflow_not_found(workflow)
        workflow_id = found.id
    try:
        return await workflow_repo.list_workflow_runs(
            session,
            workflow_id=workflow_id,
            status=status,
            trigger=trigger,
            created_after=created_after,
            created_before=created_before,
            cursor=cursor,
            limit=limit,
        )
    except InvalidCursor as error:
        raise invalid_cursor(error) from None


async def cancel(state: AppState, session: AsyncSession, principal: Principal, run_id: str) -> WorkflowRun:
    """Ask the run's workflow to cancel (it cancels its running node runs and records the end);
    403 for another key's run unless admin, 409 when it has already ended."""
    run = await load_workflow_run(session, run_id)
    if not may_cancel(principal, run):
        raise forbidden(
            principal,
            Permission.RUNS_CANCEL,
            f"API key '{principal.name}' may cancel only the runs it started; workflow run {run.id} was "
            f"started by {run.created_by or 'someone else'} (an admin may cancel any run)",
        )
    if run.is_terminal:
        raise ProblemError(409, "run-not-cancellable", f"Workflow run {run.id} is already {run.status}", run_status=run.status)
    try:
        client = await state.temporal_client()
        delivered = await run_engine.cancel_workflow_run(client, run.temporal_workflow_id)
    except Exception as error:
        raise ProblemError(
            503, "service-unavailable", f"Temporal did not accept the cancellation: {type(error).__name__}"
        ) from error
    if delivered:
        await workflow_repo.request_workflow_run_cancel(session, run.id)
    else:
        await workflow_repo.finish_workflow_run(
            session, run.id, status="cancelled", error=run_error("Cancelled", "The run was cancelled before it started")
        )
    await audit(session, "workflow_run.cancel", "workflow_run", run.id)
    await session.commit()
    return await load_workflow_run(session, run_id)
