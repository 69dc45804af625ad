"""``WorkflowRunWorkflow``: one run of a workflow graph, each task node a child ``TaskRunWorkflow``.

A node starts once all its predecessors have ended, so independent nodes run in parallel.
Each task node gets a task run row (a local activity) and then runs as a child workflow
with a run id made from the workflow's clock and seeded random, so a replay after a worker
restart finds the same children in history and starts none again. Cancelling the run
cancels the running children (and waits for them to record their end).
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.workflow_runs import WorkflowRunActivities
    from workflows.children import ChildFailed, run_child
    from workflows.event_delivery import deliver
    from workflows import versions
    from graphs.definition import Graph, Node, parse_graph
    from graphs.values import ItemsRefused, envelope, foreach_items, node_input, run_output
    from persistence.ids import uuid7_from
    from taskrun.contract import (
        NODE_STATES_QUERY,
        SCHEDULED_START,
        TRIGGER,
        WORKFLOW_RUN_WORKFLOW,
        NodeRunRequest,
        RunRecorded,
        WorkflowRunFinished,
        WorkflowRunRequest,
        WorkflowRunStarted,
        WorkflowRunSummary,
        run_error,
    )

BOOKKEEPING_TIMEOUT = timedelta(seconds=30)


class NodeFailed(Exception):
    def __init__(self, node_id: str, error: dict[str, Any]) -> None:
        self.node_id = node_id
        self.error = error
        super().__init__(error.get("message"))


@dataclasses.dataclass
class NodeOutcome:
    result: Any = None
    error: dict[str, Any] | None = None
    llm_usage: dict[str, int] = dataclasses.field(default_factory=dict)


def _add_usage(total: dict[str, int], usage: dict[str, int] | None) -> None:
    for key, value in (usage or {}).items():
        total[key] = total.get(key, 0) + int(value)


@workflow.defn(name=WORKFLOW_RUN_WORKFLOW)
class WorkflowRunWorkflow:
    def __init__(self) -> None:
        self._nodes: dict[str, dict[str, Any]] = {}
        self._started_at: datetime | None = None
        """When the run started: each node run's row records it (the first one that finds the run
        ``pending``), and so does the run's end when no node run did."""

    @workflow.query(name=NODE_STATES_QUERY)
    def node_states(self) -> dict[str, dict[str, Any]]:
        return self._nodes

    async def _prepare_scheduled_run(self, request: WorkflowRunRequest) -> WorkflowRunRequest | None:
        """A Temporal Schedule started this workflow: record the run and pin the versions (the
        schedule itself only knows the workflow id and the input)."""
        # The run id comes from the workflow's clock, so the node runs' ids (from the same
        # clock, later) never precede it: a run's node runs are found from its creation on.
        proposed = dataclasses.replace(
            request,
            workflow_run_id=self._child_run_id(),
            scheduled_time=workflow.info().typed_search_attributes.get(SCHEDULED_START),
        )
        prepared = await workflow.execute_local_activity_method(
            WorkflowRunActivities.prepare_scheduled_workflow_run,
            proposed,
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
        )
        if prepared is not None:
            # The schedule sets the trigger search attribute only where the server has it registered.
            prepared.track_status = workflow.info().typed_search_attributes.get(TRIGGER) is not None
        return prepared

    @workflow.run
    async def run(self, request: WorkflowRunRequest) -> WorkflowRunSummary:
        versions.begin(self)
        if not request.workflow_run_id:
            # Requests with a run id (every history recorded before schedules) never take this branch.
            prepared = await self._prepare_scheduled_run(request)
            if prepared is None:
                return WorkflowRunSummary("", "skipped", error_type="WorkflowNotRunnable")
            request = prepared
        try:
            graph = parse_graph(request.graph["nodes"], request.graph["edges"])
        except Exception as error:  # a request this code cannot run must end the run, not retry forever
            await self._finish(request, "failed", run_error("InternalError", f"The workflow run could not start: {error}"), None)
            raise ApplicationError(str(error), type="InternalError", non_retryable=True) from None
        for node in graph.nodes:
            self._nodes[node.id] = {"status": "pending", "kind": node.kind, "task_run_ids": []}
        if versions.patched("workflow-start-recorded-by-nodes"):
            # The first node run's row records the start (or the run's end does): no transaction
            # before the first node starts.
            self._started_at = workflow.now()
        else:
            await workflow.execute_local_activity_method(
                WorkflowRunActivities.mark_workflow_run_running,
                WorkflowRunStarted(request.workflow_run_id, workflow.now()),
                start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            )
        workflow.set_current_details(f"**{request.workflow_name} v{request.workflow_version}**: running")
        results: dict[str, Any] = {}
        ended: set[str] = set()
        tasks = {node.id: asyncio.create_task(self._node(graph, node, request, results, ended)) for node in graph.nodes}
        status, error = "completed", None
        try:
            await asyncio.gather(*tasks.values())
        except NodeFailed as failure:
            status = "failed"
            error = {
                **run_error(
                    "NodeFailed", f"node {failure.node_id!r} failed: {failure.error.get('type')}: {failure.error.get('message')}"
                ),
                "node_id": failure.node_id,
                "cause": failure.error,
            }
            await self._cancel_rest(tasks)
        except asyncio.CancelledError:
            status = "cancelled"
            error = run_error("Cancelled", "The workflow run was cancelled")
            await self._cancel_rest(tasks)
        except ItemsRefused as failure:
            status, error = "failed", run_error(failure.error_type, str(failure))
            await self._cancel_rest(tasks)
        except workflow.NondeterminismError:
            raise
        except Exception as failure:  # a bug must end the run, not retry its workflow task forever
            workflow.logger.exception("workflow run %s failed unexpectedly", request.workflow_run_id)
            status = "failed"
            error = run_error("InternalError", f"The workflow run failed unexpectedly: {type(failure).__name__}: {failure}")
            await self._cancel_rest(tasks)
        for state in self._nodes.values():
            if state["status"] in ("pending", "running"):
                state["status"] = "cancelled" if status == "cancelled" or state["status"] == "running" else "skipped"
        recorded = await self._finish(request, status, error, run_output(graph, results) if status == "completed" else None)
        workflow.set_current_details(f"**{request.workflow_name} v{request.workflow_version}**: {status}")
        if isinstance(recorded, RunRecorded) and recorded.subscribers and recorded.event and versions.patched("workflow-run-events"):
            await deliver(recorded.event, recorded.subscribers)
        if status == "cancelled":
            raise asyncio.CancelledError()
        if status == "failed":
            raise ApplicationError(
                f"{error['type']}: {error['message']}",
                {"workflow_run_id": request.workflow_run_id, "status": status, "error": error},
                type=error["type"],
                non_retryable=True,
            )
        return WorkflowRunSummary(request.workflow_run_id, status)

    async def _finish(self, request: WorkflowRunRequest, status: str, error: dict[str, Any] | None, output: Any) -> RunRecorded | bool:
        return await workflow.execute_local_activity_method(
            WorkflowRunActivities.finish_workflow_run,
            WorkflowRunFinished(
                workflow_run_id=request.workflow_run_id,
                status=status,
                completed_at=workflow.now(),
                output=output,
                error=error,
                nodes=self._nodes,
                depth=request.event_depth,
                started_at=self._started_at,
            ),
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
        )

    async def _cancel_rest(self, tasks: dict[str, asyncio.Task]) -> None:
        running = [task for task in tasks.values() if not task.done()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    async def _node(
        self, graph: Graph, node: Node, request: WorkflowRunRequest, results: dict[str, Any], ended: set[str]
    ) -> None:
        predecessors = graph.predecessors(node.id)
        await workflow.wait_condition(lambda: all(p in ended for p in predecessors))
        state = self._nodes[node.id]
        state["status"] = "running"
        state["started_at"] = workflow.now().isoformat()
        started = workflow.now()
        value = node_input(graph, node, request.input, results)
        if node.kind == "task":
            outcome = await self._task(node, request, value, node.id)
        elif node.kind == "foreach":
            outcome = await self._foreach(node, request, value)
        else:
            outcome = NodeOutcome(result=value)
        duration_ms = int((workflow.now() - started).total_seconds() * 1000)
        state.update(
            completed_at=workflow.now().isoformat(),
            duration_ms=duration_ms,
            llm_usage=outcome.llm_usage,
        )
        if outcome.error is not None:
            state["error"] = outcome.error
            if node.on_error == "fail":
                state["status"] = "failed"
                raise NodeFailed(node.id, outcome.error)
            state["status"] = "failed"
            state["continued"] = True
        else:
            state["status"] = "completed"
        results[node.id] = outcome.result
        state["envelope"] = {
            key: value
            for key, value in envelope(
                node, None, duration_ms=duration_ms, llm_usage=outcome.llm_usage, error=outcome.error
            ).items()
            if key != "result"
        }
        ended.add(node.id)

    async def _foreach(self, node: Node, request: WorkflowRunRequest, value: Any) -> NodeOutcome:
        items = foreach_items(node, value)
        gate = asyncio.Semaphore(node.concurrency)
        total = NodeOutcome(result=[None] * len(items))
        errors: list[dict[str, Any]] = []

        async def one(index: int, item: Any) -> None:
            async with gate:
                outcome = await self._task(node, request, item, f"{node.id}[{index}]")
            _add_usage(total.llm_usage, outcome.llm_usage)
            if outcome.error is not None:
                errors.append({**outcome.error, "index": index})
                if node.on_error == "fail":
                    raise NodeFailed(node.id, {**outcome.error, "index": index})
            total.result[index] = outcome.result

        runs = [asyncio.create_task(one(index, item)) for index, item in enumerate(items)]
        try:
            await asyncio.gather(*runs)
        except NodeFailed as failure:
            for run in runs:
                run.cancel()
            await asyncio.gather(*runs, return_exceptions=True)
            return NodeOutcome(error=failure.error, llm_usage=total.llm_usage)
        if errors:
            total.error = {
                **run_error("ForeachItemsFailed", f"{len(errors)} of {len(items)} items failed"),
                "items": sorted(errors, key=lambda e: e["index"]),
            }
        return total

    def _child_run_id(self) -> str:
        random = workflow.random()
        unix_ms = int(workflow.now().timestamp() * 1000)
        return str(uuid7_from(unix_ms, random.getrandbits(12), random.getrandbits(62)))

    async def _task(self, node: Node, request: WorkflowRunRequest, value: Any, instance: str) -> NodeOutcome:
        template = request.tasks[node.id]
        run_id = self._child_run_id()
        run = dataclasses.replace(
            template,
            run_id=run_id,
            input=value,
            trigger="workflow_node",
            workflow_run_id=request.workflow_run_id,
            node_instance=instance,
            workflow_run_started_at=self._started_at,
        )
        self._nodes[node.id]["task_run_ids"].append(run_id)
        # A node run records its own row when it starts, except one that may first wait for a
        # concurrency slot (its row says it waits meanwhile).
        records_itself = versions.patched("node-runs-record-themselves") and not run.max_concurrency
        if not records_itself:
            await workflow.execute_local_activity_method(
                WorkflowRunActivities.create_node_run,
                NodeRunRequest(request.workflow_run_id, instance, run),
                start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            )
        try:
            summary = await run_child(
                run, summary=f"{instance}: {run.task_name} v{run.task_version}", track_status=request.track_status
            )
        except ChildFailed as failure:
            return NodeOutcome(error=failure.error)
        output = summary.output
        if summary.output_omitted is not None:
            try:
                output = await workflow.execute_local_activity_method(
                    WorkflowRunActivities.node_run_output, run_id, start_to_close_timeout=BOOKKEEPING_TIMEOUT
                )
            except ActivityError as error:
                return NodeOutcome(error=run_error("NodeOutputUnreadable", str(error.cause or error)))
        return NodeOutcome(result=output, llm_usage=dict(summary.llm_usage or {}))
