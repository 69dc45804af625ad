"""Starting, cancelling, signalling and inspecting TaskRun workflows (the client side)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.service import RPCError

from .contract import (
    HUMAN_RESPONDED_SIGNAL,
    STATUS,
    TASK_ID,
    TASK_NAME,
    TASK_RUN_WORKFLOW,
    TRIGGER,
    TaskRunRequest,
    TaskRunSummary,
    WORKFLOW_RUN_WORKFLOW,
    NODE_STATES_QUERY,
    WorkflowRunRequest,
    WorkflowRunSummary,
    run_error,
    workflow_id_for,
)
from .outcome import WorkflowOutcome, outcome_of_closed
from .search_attributes import search_attributes_registered

ONCE = WorkflowIDReusePolicy.REJECT_DUPLICATE
"""A run's workflow id is derived from its id, and a run runs once: starting it again after its
workflow closed (a retried start, a redelivered event) answers "already started"."""


def run_summary(request: TaskRunRequest) -> str:
    if request.task_name:
        return f"{request.task_name} v{request.task_version}"
    return "ad-hoc script"


async def start_task_run(
    client: Client,
    request: TaskRunRequest,
    *,
    task_queue: str,
    namespace: str = "default",
    eager: bool = True,
) -> WorkflowHandle:
    """Start the run's workflow; its id is derived from the run id, so a retry cannot fork it."""
    search_attributes = None
    if await search_attributes_registered(client, namespace):
        search_attributes = TypedSearchAttributes(
            [
                SearchAttributePair(TASK_NAME, request.task_name or "ad-hoc"),
                SearchAttributePair(TASK_ID, request.task_id or ""),
                SearchAttributePair(TRIGGER, request.trigger),
                SearchAttributePair(STATUS, "pending"),
            ]
        )
    return await client.start_workflow(
        TASK_RUN_WORKFLOW,
        request,
        result_type=TaskRunSummary,
        id=workflow_id_for(request.run_id),
        task_queue=task_queue,
        search_attributes=search_attributes,
        static_summary=run_summary(request),
        request_eager_start=eager,
        id_reuse_policy=ONCE,
        # A run that may wait for a concurrency slot cannot know when its timeout starts.
        execution_timeout=None if request.max_concurrency else backstop_timeout(request.timeout_seconds),
    )


EXECUTION_TIMEOUT_GRACE_SECONDS = 60


def backstop_timeout(timeout_seconds: float | None) -> timedelta | None:
    """A run with a timeout also gets a Temporal execution timeout a little later, so that it
    ends even if its workflow can no longer act (the row then says ``timed_out``)."""
    if not timeout_seconds:
        return None
    return timedelta(seconds=timeout_seconds + EXECUTION_TIMEOUT_GRACE_SECONDS)


async def start_workflow_run(client: Client, request: WorkflowRunRequest, *, workflow_id: str, task_queue: str) -> WorkflowHandle:
    """Start a workflow run's workflow (its id is derived from the run id, so a retry cannot fork it)."""
    return await client.start_workflow(
        WORKFLOW_RUN_WORKFLOW,
        request,
        id=workflow_id,
        task_queue=task_queue,
        result_type=WorkflowRunSummary,
        static_summary=f"{request.workflow_name} v{request.workflow_version}",
        request_eager_start=True,
        id_reuse_policy=ONCE,
    )


async def workflow_run_nodes(client: Client, workflow_id: str) -> dict | None:
    """The node states an open workflow run holds (None when it cannot be asked)."""
    try:
        return await client.get_workflow_handle(workflow_id).query(NODE_STATES_QUERY, result_type=dict)
    except RPCError:
        return None


async def cancel_workflow(client: Client, workflow_id: str) -> bool:
    """Request cancellation; False when Temporal has no such open workflow."""
    try:
        await client.get_workflow_handle(workflow_id).cancel()
    except RPCError as error:
        if error.status.name == "NOT_FOUND":
            return False
        raise
    return True


async def cancel_task_run(client: Client, run_id: str, *, workflow_id: str | None = None) -> None:
    """Cancel the run's workflow (``workflow_id`` for runs a schedule started)."""
    await client.get_workflow_handle(workflow_id or workflow_id_for(run_id)).cancel()


async def send_answer(client: Client, workflow_id: str, payload: dict) -> None:
    """Hand a paused run the answer to its question (the workflow checks it before using it)."""
    await client.get_workflow_handle(workflow_id).signal(HUMAN_RESPONDED_SIGNAL, payload)


async def workflow_exists(client: Client, run_id: str, *, workflow_id: str | None = None) -> bool:
    try:
        await client.get_workflow_handle(workflow_id or workflow_id_for(run_id)).describe()
    except RPCError as error:
        if error.status.name == "NOT_FOUND":
            return False
        raise
    return True


async def workflow_outcome(
    client: Client, workflow_id: str, *, cancel_requested: bool = False, stuck_attempts: int | None = None
) -> WorkflowOutcome:
    """How the latest run of ``workflow_id`` stands: open, missing, closed with the run's end, or
    (with ``stuck_attempts``) stuck on a workflow task that failed that many times in a row."""
    try:
        description = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as error:
        if error.status.name == "NOT_FOUND":
            return WorkflowOutcome.MISSING
        raise
    if description.status in (None, WorkflowExecutionStatus.RUNNING):
        attempt = description.raw_description.pending_workflow_task.attempt
        if stuck_attempts is not None and attempt >= stuck_attempts:
            return WorkflowOutcome("stuck", error=await _stuck_error(client, workflow_id, attempt))
        return WorkflowOutcome.OPEN
    if description.status == WorkflowExecutionStatus.CONTINUED_AS_NEW:
        return WorkflowOutcome.OPEN  # a new run carries on (describe follows it from the next call)
    close_event = await _close_event(client, workflow_id, description.run_id)
    execution_timeout = description.raw_description.execution_config.workflow_execution_timeout
    return outcome_of_closed(
        description.status,
        close_event,
        closed_at=description.close_time,
        execution_timeout_seconds=execution_timeout.seconds or None,
        cancel_requested=cancel_requested,
    )


async def _stuck_error(client: Client, workflow_id: str, attempt: int) -> dict:
    """The run error of a workflow whose workflow task keeps failing, with the last failure."""
    from temporalio.api.enums.v1 import EventType

    cause = "no failure recorded"
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            failure = event.workflow_task_failed_event_attributes.failure
            cause = failure.message or cause
    return run_error(
        "WorkflowTaskFailing",
        f"The run's workflow could not make progress (its workflow task failed {attempt} times in a row; "
        f"last failure: {cause[:1000]}); it was terminated",
    )


async def _close_event(client: Client, workflow_id: str, run_id: str):
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.enums.v1 import HistoryEventFilterType
    from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest

    response = await client.workflow_service.get_workflow_execution_history(
        GetWorkflowExecutionHistoryRequest(
            namespace=client.namespace,
            execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
            history_event_filter_type=HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
        )
    )
    return response.history.events[-1] if response.history.events else None


async def terminate_task_run(client: Client, workflow_id: str, reason: str) -> bool:
    """Terminate the latest run of ``workflow_id``; False when it is not open (any more)."""
    try:
        await client.get_workflow_handle(workflow_id).terminate(reason=reason)
    except RPCError as error:
        if error.status.name in ("NOT_FOUND", "FAILED_PRECONDITION"):
            return False
        raise
    return True


async def closed_while_active(client: Client, closed_after: datetime, *, limit: int) -> list[str]:
    """Ids of ``TaskRunWorkflow``s closed after ``closed_after`` whose ``CytasksStatus`` still
    says the run was not over: closed without recording the run's end (terminated, timed out,
    reset, cancelled before the workflow could act). Empty when the attributes are not registered."""
    if not await search_attributes_registered(client, client.namespace):
        return []
    since = closed_after.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    query = (
        f"WorkflowType = '{TASK_RUN_WORKFLOW}' AND ExecutionStatus != 'Running' "
        f"AND CloseTime > '{since}' AND {STATUS.name} IN ('pending', 'running', 'paused')"
    )
    seen: dict[str, None] = {}
    async for execution in client.list_workflows(query, limit=limit):
        seen[execution.id] = None
    return list(seen)
