"""The console's workflow pages: the workflows, one workflow's graph and its recent runs, and a
workflow run with each node coloured by its status (refreshed while the run is not over)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ..authz import Permission, may, sees_payloads
from ..deps import SessionDep, StateDep
from ..problems import ProblemError
from ..route import CytasksRoute
from ..services import run_history
from ..services import workflow_runs as workflow_run_service
from ..services import workflows as workflow_service
from ..services.task_lookup import task_names
from .graph import draw
from .routes import ACTIVE, PAGE_SIZE, ConsoleDep, CursorParam, _require, render

router = APIRouter(prefix="/ui", include_in_schema=False, route_class=CytasksRoute)
RECENT_RUNS = 10


@router.get("/workflows")
async def workflows_page(request: Request, console: ConsoleDep, session: SessionDep, cursor: CursorParam = None) -> HTMLResponse:
    denied = _require(request, console, Permission.TASKS_READ)
    if denied:
        return denied
    try:
        page = await workflow_service.list_workflows(session, status=None, cursor=cursor, limit=PAGE_SIZE)
    except ProblemError as problem:
        return render(request, "error.html", console, problem.status, title="Cannot list workflows", message=problem.detail)
    return render(
        request, "workflows.html", console, workflows=page.items,
        older=urlencode({"cursor": page.next_cursor}) if page.next_cursor else None,
    )


@router.get("/workflows/{workflow_id}")
async def workflow_page(request: Request, console: ConsoleDep, session: SessionDep, workflow_id: str) -> HTMLResponse:
    denied = _require(request, console, Permission.TASKS_READ)
    if denied:
        return denied
    try:
        workflow = await workflow_service.load_workflow(session, workflow_id)
    except ProblemError as problem:
        return render(request, "error.html", console, problem.status, title="No such workflow", message=problem.detail)
    nodes, edges = list(workflow.nodes or []), list(workflow.edges or [])
    links = {str(node["id"]): f"/ui/tasks/{node['task']}" for node in nodes if node.get("task")}
    recent: list[Any] = []
    if may(console.principal, Permission.RUNS_READ):
        recent = (await workflow_run_service.list_runs(
            session, workflow=str(workflow.id), status=None, trigger=None, created_after=None, created_before=None,
            cursor=None, limit=RECENT_RUNS,
        )).items
    return render(
        request, "workflow.html", console, workflow=workflow, nodes=nodes, edges=edges,
        drawing=draw(nodes, edges, links=links), recent=recent,
    )


async def _run_context(state, session, console, run_id: str) -> dict[str, Any]:
    run = await workflow_run_service.read(state, session, run_id, 0)
    views = await workflow_run_service.node_views(state, session, run)
    graph = run.graph or {}
    nodes, edges = list(graph.get("nodes", [])), list(graph.get("edges", []))
    pinned = {str(node["task"]): _as_uuid(node.get("task_id")) for node in nodes if node.get("task")}
    names = await task_names(session, {task_id for task_id in pinned.values() if task_id})
    label = {task: names[task_id].name for task, task_id in pinned.items() if task_id in names}
    links = {}
    for view in views:
        target = view["question"]["run_id"] if view["question"] else view["task_run_id"] or next(iter(view["task_run_ids"]), None)
        if target:
            links[view["node_id"]] = f"/ui/runs/{target}"
    status = {view["node_id"]: view["status"] for view in views}
    visible = sees_payloads(console.principal, run)
    input_value = output = None
    if visible:
        input_value, output = await workflow_run_service.values(state, run)
    return {
        "run": run,
        "views": views,
        "drawing": draw(nodes, edges, task_label=label, status=status, links=links),
        "payloads_visible": visible,
        "input": input_value,
        "output": output,
        "active": run.status in ACTIVE,
        "temporal_link": run_history.temporal_ui_link(state, run.temporal_workflow_id),
    }


def _as_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


async def _workflow_run(request, console, session, state, run_id: str, template: str) -> HTMLResponse:
    denied = _require(request, console, Permission.RUNS_READ)
    if denied:
        return denied
    try:
        context = await _run_context(state, session, console, run_id)
    except ProblemError as problem:
        return render(request, "error.html", console, problem.status, title="No such workflow run", message=problem.detail)
    return render(request, template, console, **context)


@router.get("/workflow-runs/{run_id}")
async def workflow_run_page(request: Request, console: ConsoleDep, session: SessionDep, state: StateDep, run_id: str) -> HTMLResponse:
    return await _workflow_run(request, console, session, state, run_id, "workflow_run.html")


@router.get("/workflow-runs/{run_id}/live")
async def workflow_run_live(request: Request, console: ConsoleDep, session: SessionDep, state: StateDep, run_id: str) -> HTMLResponse:
    return await _workflow_run(request, console, session, state, run_id, "workflow_run_body.html")
