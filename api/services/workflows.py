"""Workflow definitions: checked on save (structure, tasks, schemas), versioned, archived."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from graphs.definition import Graph, GraphInvalid, Problem, parse_graph
from graphs.schemas import schema_problems
from persistence.models import Task, WorkflowDefinition, WorkflowVersion
from persistence.repository import workflows as workflow_repo
from persistence.repository.pagination import InvalidCursor, Page

from ..problems import ProblemError, invalid_cursor, not_found
from ..state import AppState, Principal
from .auditing import audit
from .workflow_schedules import sync_workflow_schedule
from .schema_checks import check_json_schema_off_loop
from .workflow_lookup import load_workflow

MAX_PROBLEMS = 50


def _invalid(problems: list[Problem]) -> ProblemError:
    shown = problems[:MAX_PROBLEMS]
    first = shown[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return ProblemError(
        422,
        "invalid-workflow",
        f"{first.field}: {first.message}{more}",
        errors=[{**problem.to_dict(), "in": "body"} for problem in shown],
    )


async def resolve_tasks(session: AsyncSession, graph: Graph) -> dict[str, tuple[Task, Any]]:
    """Each task node's task and the version it pins (the task itself for its current one);
    422 naming every node whose task or version does not exist."""
    found, problems = await workflow_repo.resolve_node_tasks(session, graph)
    if problems:
        raise _invalid(problems)
    return found


async def checked_graph(
    session: AsyncSession, nodes: Any, edges: Any, input_schema: dict[str, Any] | None
) -> Graph:
    """The definition's graph once its structure, its tasks and their schemas are consistent."""
    try:
        graph = parse_graph(nodes, edges)
    except GraphInvalid as invalid:
        raise _invalid(invalid.problems) from None
    tasks = await resolve_tasks(session, graph)
    schemas = {node_id: (pinned.input_schema, pinned.output_schema) for node_id, (_, pinned) in tasks.items()}
    problems = schema_problems(graph, input_schema, schemas)
    if problems:
        raise _invalid(problems)
    return graph


def _stored(graph: Graph) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    definition = graph.to_dict()
    return definition["nodes"], definition["edges"]


async def create_workflow(session: AsyncSession, body: Any, principal: Principal) -> WorkflowDefinition:
    if body.input_schema is not None:
        await check_json_schema_off_loop(body.input_schema, "input_schema")
    graph = await checked_graph(session, body.nodes, body.edges, body.input_schema)
    nodes, edges = _stored(graph)
    try:
        workflow = await workflow_repo.create_workflow(
            session,
            name=body.name,
            description=body.description,
            input_schema=body.input_schema,
            nodes=nodes,
            edges=edges,
            created_by=principal.name,
        )
    except workflow_repo.WorkflowNameConflict as conflict:
        raise ProblemError(409, "conflict", str(conflict), errors=[{"field": "name", "in": "body", "message": "taken"}])
    await audit(session, "workflow.create", "workflow", workflow.id, details={"name": workflow.name})
    await session.commit()
    return workflow


async def update_workflow(
    state: AppState, session: AsyncSession, ident: str, body: Any, principal: Principal
) -> WorkflowDefinition:
    """Change the workflow (a changed definition makes a new version); a changed status or name
    pauses, resumes or relabels its schedule."""
    changes = body.model_dump(exclude_unset=True)
    for field in ("name", "nodes", "edges"):
        if field in changes and changes[field] is None:
            raise ProblemError(
                422, "validation-error", f"{field} cannot be null", errors=[{"field": field, "in": "body", "message": "cannot be null"}]
            )
    workflow = await load_workflow(session, ident, for_update=True)
    if "input_schema" in changes and changes["input_schema"] is not None:
        await check_json_schema_off_loop(changes["input_schema"], "input_schema")
    if {"nodes", "edges", "input_schema"} & set(changes):
        graph = await checked_graph(
            session,
            changes.get("nodes", workflow.nodes),
            changes.get("edges", workflow.edges),
            changes.get("input_schema", workflow.input_schema),
        )
        changes["nodes"], changes["edges"] = _stored(graph)
    if "status" in changes:
        changes["status"] = changes["status"].value if hasattr(changes["status"], "value") else changes["status"]
    try:
        workflow = await workflow_repo.update_workflow(session, workflow, changes, updated_by=principal.name)
    except workflow_repo.WorkflowNameConflict as conflict:
        raise ProblemError(409, "conflict", str(conflict), errors=[{"field": "name", "in": "body", "message": "taken"}])
    await audit(session, "workflow.update", "workflow", workflow.id, details={"fields": sorted(changes), "version": workflow.version})
    await session.commit()
    if {"status", "name"} & changes.keys():
        await sync_workflow_schedule(state, workflow)
    return workflow


async def archive_workflow(state: AppState, session: AsyncSession, ident: str) -> WorkflowDefinition:
    """Archive the workflow (it can no longer run, its schedule is paused; its runs are kept)."""
    workflow = await load_workflow(session, ident, for_update=True)
    workflow = await workflow_repo.update_workflow(session, workflow, {"status": "archived"})
    await audit(session, "workflow.archive", "workflow", workflow.id, details={"name": workflow.name})
    await session.commit()
    await sync_workflow_schedule(state, workflow)
    return workflow


async def list_workflows(
    session: AsyncSession, *, status: str | None, cursor: str | None, limit: int
) -> Page[WorkflowDefinition]:
    try:
        return await workflow_repo.list_workflows(session, status=status, cursor=cursor, limit=limit)
    except InvalidCursor as error:
        raise invalid_cursor(error) from None


async def versions(session: AsyncSession, ident: str) -> list[WorkflowVersion]:
    workflow = await load_workflow(session, ident)
    return await workflow_repo.list_workflow_versions(session, workflow.id)


async def version(session: AsyncSession, ident: str, number: int) -> WorkflowVersion:
    workflow = await load_workflow(session, ident)
    found = await workflow_repo.get_workflow_version(session, workflow.id, number)
    if found is None:
        raise not_found(f"Workflow '{workflow.name}' has no version {number} (its versions are 1 to {workflow.version})")
    return found
