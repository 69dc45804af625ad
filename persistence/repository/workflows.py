"""Workflow definitions (versioned like tasks) and workflow runs."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from graphs.definition import Graph, Problem
from persistence.ids import created_at_from_run_id, new_run_id
from persistence.models import Task, TaskRun, WorkflowDefinition, WorkflowRun, WorkflowVersion
from persistence.run_notifications import ended_notice
from persistence.repository import tasks as task_repo
from persistence.repository.pagination import Page, before_cursor, clamp_limit, page_from_rows
from taskrun.contract import (
    ACTIVE_RUN_STATUSES,
    TERMINAL_RUN_STATUSES,
    TaskRunRequest,
    WorkflowRunRequest,
    workflow_run_workflow_id,
)

VERSIONED_WORKFLOW_FIELDS = frozenset({"name", "description", "input_schema", "nodes", "edges"})
EDITABLE_WORKFLOW_FIELDS = VERSIONED_WORKFLOW_FIELDS | {"status"}


class WorkflowNameConflict(ValueError):
    pass


def _as_uuid(value: str | uuid.UUID) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _version_row(workflow: WorkflowDefinition, created_by: str | None) -> WorkflowVersion:
    return WorkflowVersion(
        workflow_id=workflow.id,
        version=workflow.version,
        name=workflow.name,
        description=workflow.description,
        input_schema=workflow.input_schema,
        nodes=workflow.nodes,
        edges=workflow.edges,
        created_by=created_by,
    )


async def _flush_named(session: AsyncSession, name: str) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as error:
        if "workflows_name_key" in str(error.orig):
            raise WorkflowNameConflict(f"a workflow named {name!r} already exists") from error
        raise


async def create_workflow(
    session: AsyncSession,
    *,
    name: str,
    nodes: list[Any],
    edges: list[Any],
    description: str | None = None,
    input_schema: dict[str, Any] | None = None,
    created_by: str | None = None,
) -> WorkflowDefinition:
    workflow = WorkflowDefinition(
        name=name,
        description=description,
        input_schema=input_schema,
        nodes=nodes,
        edges=edges,
        version=1,
        status="enabled",
        created_by=created_by,
    )
    session.add(workflow)
    await _flush_named(session, name)
    session.add(_version_row(workflow, created_by))
    await session.flush()
    await session.refresh(workflow)
    return workflow


async def get_workflow(
    session: AsyncSession, id_or_name: str | uuid.UUID, *, for_update: bool = False
) -> WorkflowDefinition | None:
    """A workflow by its id or its name."""
    workflow_id = _as_uuid(id_or_name)
    condition = WorkflowDefinition.id == workflow_id if workflow_id else WorkflowDefinition.name == str(id_or_name)
    statement = select(WorkflowDefinition).where(condition)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def list_workflows(
    session: AsyncSession,
    *,
    status: str | None = None,
    include_archived: bool = False,
    cursor: str | None = None,
    limit: int | None = 50,
) -> Page[WorkflowDefinition]:
    limit = clamp_limit(limit)
    statement = select(WorkflowDefinition)
    if status:
        statement = statement.where(WorkflowDefinition.status == status)
    elif not include_archived:
        statement = statement.where(WorkflowDefinition.status != "archived")
    if cursor:
        statement = statement.where(before_cursor(WorkflowDefinition.created_at, WorkflowDefinition.id, cursor))
    statement = statement.order_by(WorkflowDefinition.created_at.desc(), WorkflowDefinition.id.desc()).limit(limit + 1)
    return page_from_rows(list((await session.execute(statement)).scalars()), limit)


async def update_workflow(
    session: AsyncSession,
    workflow: WorkflowDefinition,
    changes: Mapping[str, Any],
    *,
    updated_by: str | None = None,
) -> WorkflowDefinition:
    """Apply ``changes``; a change to the definition makes a new immutable version."""
    unknown = set(changes) - EDITABLE_WORKFLOW_FIELDS
    if unknown:
        raise TypeError(f"unknown workflow fields: {sorted(unknown)}")
    effective = {key: value for key, value in changes.items() if getattr(workflow, key) != value}
    if not effective:
        return workflow
    for key, value in effective.items():
        setattr(workflow, key, value)
    new_version = any(key in VERSIONED_WORKFLOW_FIELDS for key in effective)
    if new_version:
        workflow.version += 1
    workflow.updated_at = func.now()
    await _flush_named(session, workflow.name)
    if new_version:
        session.add(_version_row(workflow, updated_by))
        await session.flush()
    await session.refresh(workflow)
    return workflow


async def list_workflow_versions(session: AsyncSession, workflow_id: uuid.UUID) -> list[WorkflowVersion]:
    statement = (
        select(WorkflowVersion)
        .where(WorkflowVersion.workflow_id == workflow_id)
        .order_by(WorkflowVersion.version.desc())
    )
    return list((await session.execute(statement)).scalars())


async def get_workflow_version(session: AsyncSession, workflow_id: uuid.UUID, version: int) -> WorkflowVersion | None:
    return await session.get(WorkflowVersion, (workflow_id, version))


# -- pinning a run's tasks ----------------------------------------------------------------------


async def resolve_node_tasks(session: AsyncSession, graph: Graph) -> tuple[dict[str, tuple[Task, Any]], list[Problem]]:
    """Each task node's task and the version it pins (the task itself for its current one),
    and a problem naming every node whose task or version does not exist."""
    found: dict[str, tuple[Task, Any]] = {}
    problems: list[Problem] = []
    for index, node in enumerate(graph.nodes):
        if node.task is None:
            continue
        task = await task_repo.get_task(session, node.task)
        if task is None:
            problems.append(Problem(f"nodes[{index}].task", f"no task with id or cy_name {node.task!r}", node.id))
            continue
        pinned: Any = task
        if node.version is not None and node.version != task.version:
            pinned = await task_repo.get_version(session, task.id, node.version)
            if pinned is None:
                problems.append(
                    Problem(
                        f"nodes[{index}].version",
                        f"task {task.cy_name!r} has no version {node.version} (its versions are 1 to {task.version})",
                        node.id,
                    )
                )
                continue
        found[node.id] = (task, pinned)
    return found, problems


def workflow_run_request(
    run_id: uuid.UUID | str,
    definition: WorkflowDefinition | WorkflowVersion,
    graph: Graph,
    tasks: Mapping[str, tuple[Task, Any]],
    input: Any,
    trigger: str,
) -> WorkflowRunRequest:
    """The request of a run of ``definition``: its graph and, per task node, the request of
    the task version it pins (``run_id`` empty: each node run gets its own)."""
    templates = {
        node_id: TaskRunRequest.for_task(run_id="", task=task, pinned=pinned, input=None, trigger="workflow_node")
        for node_id, (task, pinned) in tasks.items()
    }
    return WorkflowRunRequest(
        workflow_run_id=str(run_id),
        graph=graph.to_dict(),
        tasks=templates,
        input=input,
        workflow_name=definition.name,
        workflow_version=definition.version,
        trigger=trigger,
    )


def pinned_graph(request: WorkflowRunRequest) -> dict[str, Any]:
    """The graph as the run records it: each task node with the task id and version it runs."""
    graph = {"nodes": [dict(node) for node in request.graph["nodes"]], "edges": request.graph["edges"]}
    for node in graph["nodes"]:
        template = request.tasks.get(node["id"])
        if template is not None:
            node["task_id"] = template.task_id
            node["task_version"] = template.task_version
    return graph


# -- schedules ----------------------------------------------------------------------------------


async def set_workflow_schedule(session: AsyncSession, workflow_id: uuid.UUID, schedule: dict[str, Any] | None) -> bool:
    """Replace the workflow's schedule document (None removes it). Does not make a new version."""
    statement = (
        update(WorkflowDefinition)
        .where(WorkflowDefinition.id == workflow_id)
        .values(schedule=schedule, updated_at=func.now())
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).rowcount == 1


async def list_scheduled_workflows(session: AsyncSession) -> list[WorkflowDefinition]:
    """Every workflow that has a schedule document, whatever its status."""
    statement = (
        select(WorkflowDefinition)
        .where(WorkflowDefinition.schedule.is_not(None))
        .order_by(WorkflowDefinition.created_at)
    )
    return list((await session.execute(statement.execution_options(populate_existing=True))).scalars())


async def workflow_runs_by_temporal_ids(
    session: AsyncSession, workflow_id: uuid.UUID, temporal_workflow_ids: Sequence[str], since: datetime
) -> dict[str, WorkflowRun]:
    """The runs of the workflow recorded by the given Temporal workflows, keyed by Temporal workflow id."""
    if not temporal_workflow_ids:
        return {}
    statement = select(WorkflowRun).where(
        WorkflowRun.workflow_id == workflow_id,
        WorkflowRun.created_at >= since,
        WorkflowRun.temporal_workflow_id.in_(list(temporal_workflow_ids)),
    )
    return {run.temporal_workflow_id: run for run in (await session.execute(statement)).scalars()}


# -- runs -------------------------------------------------------------------------------------

_runs = WorkflowRun.__table__


def _by_id(run_id: uuid.UUID):
    return and_(_runs.c.id == run_id, _runs.c.created_at == created_at_from_run_id(run_id))


def _as_run_id(run_id: uuid.UUID | str) -> uuid.UUID | None:
    run_id = _as_uuid(run_id)
    return run_id if run_id is not None and run_id.version == 7 else None


async def create_workflow_run(
    session: AsyncSession,
    *,
    workflow: WorkflowDefinition | WorkflowVersion | None,
    workflow_id: uuid.UUID | None,
    trigger: str,
    graph: dict[str, Any],
    input_storage: str = "inline",
    input_inline: Any = None,
    input_ref: str | None = None,
    created_by: str | None = None,
    run_id: uuid.UUID | None = None,
    temporal_workflow_id: str | None = None,
    scheduled_time: datetime | None = None,
) -> WorkflowRun:
    """A pending run; its Temporal workflow id is ``workflowrun-<run id>`` unless the workflow
    was started first (by a schedule) and so already has its id."""
    run_id = run_id or new_run_id()
    run = WorkflowRun(
        id=run_id,
        created_at=created_at_from_run_id(run_id),
        workflow_id=workflow_id,
        workflow_name=workflow.name if workflow is not None else None,
        workflow_version=workflow.version if workflow is not None else None,
        status="pending",
        trigger=trigger,
        input_storage=input_storage,
        input_inline=input_inline,
        input_ref=input_ref,
        graph=graph,
        created_by=created_by,
        temporal_workflow_id=temporal_workflow_id or workflow_run_workflow_id(str(run_id)),
        scheduled_time=scheduled_time,
    )
    session.add(run)
    await session.flush()
    return run


async def get_workflow_run(session: AsyncSession, run_id: uuid.UUID | str) -> WorkflowRun | None:
    run_id = _as_run_id(run_id)
    if run_id is None:
        return None
    statement = select(WorkflowRun).where(
        WorkflowRun.id == run_id, WorkflowRun.created_at == created_at_from_run_id(run_id)
    )
    return (await session.execute(statement.execution_options(populate_existing=True))).scalar_one_or_none()


async def list_workflow_runs(
    session: AsyncSession,
    *,
    workflow_id: uuid.UUID | None = None,
    status: Sequence[str] | None = None,
    trigger: Sequence[str] | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    cursor: str | None = None,
    limit: int | None = 50,
) -> Page[WorkflowRun]:
    limit = clamp_limit(limit)
    statement = select(WorkflowRun)
    if workflow_id is not None:
        statement = statement.where(WorkflowRun.workflow_id == workflow_id)
    if status:
        statement = statement.where(WorkflowRun.status.in_(list(status)))
    if trigger:
        statement = statement.where(WorkflowRun.trigger.in_(list(trigger)))
    if created_after is not None:
        statement = statement.where(WorkflowRun.created_at >= created_after)
    if created_before is not None:
        statement = statement.where(WorkflowRun.created_at < created_before)
    if cursor:
        statement = statement.where(before_cursor(WorkflowRun.created_at, WorkflowRun.id, cursor))
    statement = statement.order_by(WorkflowRun.created_at.desc(), WorkflowRun.id.desc()).limit(limit + 1)
    return page_from_rows(list((await session.execute(statement)).scalars()), limit)


async def mark_workflow_run_running(
    session: AsyncSession, run_id: uuid.UUID | str, started_at: datetime, *, skip_locked: bool = False
) -> bool:
    """pending -> running. With ``skip_locked``, a row another transaction holds is left to it."""
    run_id = _as_run_id(run_id)
    condition = [_by_id(run_id), _runs.c.status == "pending"]
    if skip_locked:
        held = select(_runs.c.id).where(*condition).with_for_update(skip_locked=True).scalar_subquery()
        condition.append(_runs.c.id == held)
    statement = update(_runs).where(*condition).values(status="running", started_at=func.coalesce(_runs.c.started_at, started_at))
    return (await session.execute(statement)).rowcount == 1


async def finish_workflow_run(
    session: AsyncSession,
    run_id: uuid.UUID | str,
    *,
    status: str,
    output_storage: str | None = None,
    output_inline: Any = None,
    output_ref: str | None = None,
    error: dict[str, Any] | None = None,
    nodes: dict[str, Any] | None = None,
    completed_at: datetime | None = None,
    started_at: datetime | None = None,
) -> bool:
    """Record the run's end once (a second call for an ended run changes nothing)."""
    if status not in TERMINAL_RUN_STATUSES:
        raise ValueError(f"{status!r} is not a terminal status")
    run_id = _as_run_id(run_id)
    completed_at = completed_at or datetime.now(UTC)
    started = func.coalesce(_runs.c.started_at, started_at or completed_at)
    statement = (
        update(_runs)
        .where(_by_id(run_id), _runs.c.status.notin_(TERMINAL_RUN_STATUSES))
        .values(
            status=status,
            output_storage=output_storage,
            output_inline=output_inline,
            output_ref=output_ref,
            error=error,
            nodes=nodes,
            started_at=started,
            completed_at=completed_at,
            duration_ms=func.floor(func.extract("epoch", completed_at - started) * 1000),
        )
        .returning(ended_notice("workflow", run_id))
    )
    return (await session.execute(statement)).first() is not None


async def request_workflow_run_cancel(session: AsyncSession, run_id: uuid.UUID | str) -> bool:
    statement = (
        update(_runs)
        .where(_by_id(_as_run_id(run_id)), _runs.c.status.in_(ACTIVE_RUN_STATUSES))
        .values(cancel_requested=True)
    )
    return (await session.execute(statement)).rowcount == 1


async def node_runs(session: AsyncSession, run: WorkflowRun) -> list[TaskRun]:
    """The task runs of a workflow run's nodes, oldest first."""
    statement = (
        select(TaskRun)
        .where(TaskRun.parent_workflow_run_id == str(run.id), TaskRun.created_at >= run.created_at)
        .order_by(TaskRun.created_at, TaskRun.id)
    )
    return list((await session.execute(statement)).scalars())


async def sync_workflow_run_pause(session: AsyncSession, workflow_run_id: str | None) -> None:
    """A workflow run is paused while one of its node runs is: called when a node run's status
    moves between running and paused."""
    run_id = _as_run_id(workflow_run_id) if workflow_run_id else None
    if run_id is None:
        return
    created_at = created_at_from_run_id(run_id)
    any_paused = (
        select(TaskRun.id)
        .where(
            TaskRun.parent_workflow_run_id == str(run_id),
            TaskRun.created_at >= created_at,
            TaskRun.status == "paused",
        )
        .exists()
    )

    statement = (
        update(_runs)
        .where(_by_id(run_id), _runs.c.status.in_(("running", "paused")))
        .values(status=case((any_paused, "paused"), else_="running"))
    )
    await session.execute(statement)
