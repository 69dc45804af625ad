"""Bookkeeping of workflow runs (local activities): the run row, a row per node run, the end.

``prepare_scheduled_workflow_run`` is the first step of a run a workflow's Temporal Schedule
started (its request has no run id): it records the run (trigger ``schedule``) and pins the
workflow's version and each task node's, as ``prepare_scheduled_run`` does for a task. A fire of
a workflow that cannot run (gone, disabled, archived, unscheduled) is skipped, with no run
recorded; one whose input no longer matches the workflow's ``input_schema``, or whose node
tasks cannot run, is recorded ``failed``. A retried attempt finds the run the first one
recorded (by the fire's Temporal workflow id, unique per fire), so a fire records one run.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from temporalio import activity

from graphs.definition import parse_graph
from persistence.db import get_sessionmaker
from persistence.ids import new_run_id
from persistence.repository.runs import get_run
from persistence.repository.schedules import SCHEDULE_CREATOR, backfill_creator
from persistence.repository.workflows import (
    create_workflow_run,
    finish_workflow_run,
    get_workflow,
    get_workflow_run,
    get_workflow_version,
    mark_workflow_run_running,
    pinned_graph,
    resolve_node_tasks,
    workflow_run_request,
    workflow_runs_by_temporal_ids,
)
from settings import Settings
from storage.blobs import BlobStore
from storage.values import load_value, run_value_key, store_value

from persistence.repository.events import subscribers_of
from taskrun.events import WORKFLOW_RUN_EVENT_OF_STATUS, matches, workflow_run_event

from .runs import record_node_run
from .schedules import RETRY_LOOKBACK, backfill_for, input_errors
from taskrun.contract import (
    TERMINAL_RUN_STATUSES,
    NodeRunRequest,
    RunRecorded,
    TaskRunRequest,
    WorkflowRunFinished,
    WorkflowRunRequest,
    WorkflowRunStarted,
    run_error,
)

logger = logging.getLogger(__name__)


class WorkflowRunActivities:
    def __init__(self, settings: Settings, blobs: BlobStore) -> None:
        self.settings = settings
        self.blobs = blobs
        self.sessions = get_sessionmaker(settings.DATABASE_URL)

    @activity.defn(name="prepare_scheduled_workflow_run")
    async def prepare_scheduled_workflow_run(self, request: WorkflowRunRequest) -> WorkflowRunRequest | None:
        """The complete request of a freshly recorded run of a schedule's fire, or None when
        there is nothing to run (skipped, or recorded ``failed``). ``request.workflow_run_id``
        is the id the workflow proposes for the run (made from its clock)."""
        info = activity.info()
        scheduled_time = request.scheduled_time
        if scheduled_time is not None and scheduled_time.tzinfo is None:
            scheduled_time = scheduled_time.replace(tzinfo=UTC)
        try:
            workflow_uuid = uuid.UUID(str(request.workflow_id))
        except ValueError:
            logger.warning("schedule fire %s names no valid workflow id (%r): skipped", info.workflow_id, request.workflow_id)
            return None
        async with self.sessions() as session, session.begin():
            workflow = await get_workflow(session, workflow_uuid)
            if workflow is None:
                logger.warning("schedule fire %s: workflow %s no longer exists: skipped", info.workflow_id, workflow_uuid)
                return None
            if workflow.status != "enabled" or workflow.schedule is None:
                logger.info(
                    "schedule fire %s: workflow %s is %s%s: skipped",
                    info.workflow_id,
                    workflow.name,
                    workflow.status,
                    "" if workflow.schedule is not None else " and unscheduled",
                )
                return None
            since = datetime.now(UTC) - RETRY_LOOKBACK
            earlier = (await workflow_runs_by_temporal_ids(session, workflow.id, [info.workflow_id], since)).get(
                info.workflow_id
            )
            if earlier is not None:
                return await self._resume_recorded(session, earlier, request)
            definition: Any = workflow
            pinned_version = workflow.schedule.get("version")
            if pinned_version and pinned_version != workflow.version:
                definition = await get_workflow_version(session, workflow.id, pinned_version) or workflow
            graph = parse_graph(definition.nodes, definition.edges)
            tasks, problems = await resolve_node_tasks(session, graph)
            run_id = uuid.UUID(request.workflow_run_id) if request.workflow_run_id else new_run_id()
            prepared = workflow_run_request(run_id, definition, graph, tasks, request.input, "schedule")
            stored = await store_value(
                request.input, self.settings.INLINE_THRESHOLD_BYTES, self.blobs, run_value_key(run_id, "input")
            )
            backfill_id = backfill_for(workflow.schedule, scheduled_time)
            await create_workflow_run(
                session,
                run_id=run_id,
                workflow=definition,
                workflow_id=workflow.id,
                trigger="schedule",
                graph=pinned_graph(prepared),
                input_storage=stored.storage,
                input_inline=stored.inline,
                input_ref=stored.ref,
                created_by=backfill_creator(backfill_id) if backfill_id else SCHEDULE_CREATOR,
                temporal_workflow_id=info.workflow_id,
                scheduled_time=scheduled_time,
            )
            error = self._cannot_run(definition, tasks, problems, request.input)
            if error is not None:
                await finish_workflow_run(session, run_id, status="failed", error=error)
                return None
            prepared.scheduled_time = scheduled_time
            prepared.workflow_id = str(workflow.id)
            return prepared

    @staticmethod
    def _cannot_run(definition: Any, tasks: dict[str, Any], problems: list[Any], value: Any) -> dict[str, Any] | None:
        """Why the fire's run cannot start (the run error), or None."""
        if problems:
            return run_error("TaskNotRunnable", f"{problems[0].field}: {problems[0].message}")
        for node_id, (task, _pinned) in tasks.items():
            if task.status != "enabled":
                return {
                    **run_error("TaskNotRunnable", f"node {node_id!r}: task {task.cy_name!r} is {task.status}"),
                    "node_id": node_id,
                }
        problem = input_errors(definition.input_schema, value)
        if problem is not None:
            return run_error(
                "InputValidationFailed", f"The schedule's input no longer matches the workflow's input_schema: {problem}"
            )
        return None

    async def _resume_recorded(self, session: Any, run: Any, request: WorkflowRunRequest) -> WorkflowRunRequest | None:
        """A retried attempt: the request of the run its first attempt recorded, pinned as then."""
        if run.status in TERMINAL_RUN_STATUSES:
            return None
        graph_nodes = []
        for node in (run.graph or {}).get("nodes", []):
            node = dict(node)
            task_id, task_version = node.pop("task_id", None), node.pop("task_version", None)
            if task_id is not None:
                node["task"], node["version"] = task_id, task_version
            graph_nodes.append(node)
        graph = parse_graph(graph_nodes, (run.graph or {}).get("edges", []))
        tasks, problems = await resolve_node_tasks(session, graph)
        if problems:
            await finish_workflow_run(session, run.id, status="failed", error=self._cannot_run(None, tasks, problems, None))
            return None
        value = await load_value(run.input_storage, run.input_inline, run.input_ref, self.blobs)
        definition = await get_workflow_version(session, run.workflow_id, run.workflow_version)
        if definition is None:
            definition = await get_workflow(session, run.workflow_id)
        prepared = workflow_run_request(run.id, definition, graph, tasks, value, "schedule")
        prepared.graph = parse_graph(
            [{k: v for k, v in node.items() if k not in ("task_id", "task_version")} for node in run.graph["nodes"]],
            run.graph["edges"],
        ).to_dict()
        prepared.scheduled_time = run.scheduled_time
        prepared.workflow_id = str(run.workflow_id)
        return prepared

    @activity.defn(name="mark_workflow_run_running")
    async def mark_workflow_run_running(self, started: WorkflowRunStarted) -> bool:
        async with self.sessions() as session, session.begin():
            return await mark_workflow_run_running(session, started.workflow_run_id, started.started_at)

    @activity.defn(name="create_node_run")
    async def create_node_run(self, node: NodeRunRequest) -> TaskRunRequest:
        """The node's task run row, made by the workflow run before it started the node run
        (histories recorded before node runs recorded their own rows)."""
        request = node.run
        request.workflow_run_id, request.node_instance = node.workflow_run_id, node.node_instance
        async with self.sessions() as session, session.begin():
            await record_node_run(session, self.settings, self.blobs, request)
        return request

    @activity.defn(name="node_run_output")
    async def node_run_output(self, run_id: str) -> Any:
        """The output of a completed node run too large to travel in its workflow's result."""
        async with self.sessions() as session:
            run = await get_run(session, run_id)
            if run is None:
                raise ValueError(f"no task run {run_id}")
            return await load_value(run.output_storage, run.output_inline, run.output_ref, self.blobs)

    @activity.defn(name="finish_workflow_run")
    async def finish_workflow_run(self, finished: WorkflowRunFinished) -> RunRecorded | bool:
        """Record the run's end. Answers True/False (recorded or already ended), or, when rules
        listen to its end event, a RunRecorded with the event and the rules."""
        stored = await store_value(
            finished.output,
            self.settings.INLINE_THRESHOLD_BYTES,
            self.blobs,
            run_value_key(finished.workflow_run_id, "output"),
        )
        async with self.sessions() as session, session.begin():
            ended = await finish_workflow_run(
                session,
                finished.workflow_run_id,
                status=finished.status,
                output_storage=stored.storage if finished.status == "completed" else None,
                output_inline=stored.inline if finished.status == "completed" else None,
                output_ref=stored.ref if finished.status == "completed" else None,
                error=finished.error,
                nodes=finished.nodes,
                completed_at=finished.completed_at,
                started_at=finished.started_at,
            )
            event_type = WORKFLOW_RUN_EVENT_OF_STATUS.get(finished.status)
            found = await subscribers_of(session, event_type, None, None) if event_type else []
            if not found:
                return ended
            row = await get_workflow_run(session, finished.workflow_run_id)
            event = workflow_run_event(
                workflow_run=row, status=finished.status, occurred_at=finished.completed_at, error=finished.error, depth=finished.depth
            )
            chosen = [{"kind": s.kind, "id": s.id} for s in found if matches(event, s.match)]
            if not chosen:
                return ended
            return RunRecorded(finished.status, finished.error, event=event, subscribers=chosen)
