"""Runs started as child workflows (workflow nodes, ``app::tasks::run``): starting one and
reading how it ended."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError, ChildWorkflowError
from temporalio.exceptions import CancelledError as TemporalCancelledError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from taskrun.client import backstop_timeout
    from taskrun.contract import (
        STATUS,
        TASK_ID,
        TASK_NAME,
        TASK_RUN_WORKFLOW,
        TRIGGER,
        TaskRunRequest,
        TaskRunSummary,
        run_error,
        workflow_id_for,
    )


class ChildFailed(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        self.error = error
        super().__init__(error.get("message"))


def child_error(error: ChildWorkflowError) -> dict[str, Any]:
    """The run error a failed child run recorded (its workflow fails with it as details)."""
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.details and isinstance(cause.details[0], dict):
        recorded = cause.details[0].get("error")
        if isinstance(recorded, dict):
            return recorded
    if isinstance(cause, ApplicationError):
        return run_error(cause.type or "ChildRunFailed", cause.message)
    return run_error("ChildRunFailed", str(cause or error))


async def run_child(request: TaskRunRequest, *, summary: str, track_status: bool) -> TaskRunSummary:
    """Start ``request`` as a child TaskRunWorkflow and wait for it. ChildFailed with the run's
    error when it failed or timed out; asyncio.CancelledError when it was cancelled."""
    attributes = None
    if track_status:
        attributes = TypedSearchAttributes(
            [
                SearchAttributePair(TASK_NAME, request.task_name or "ad-hoc"),
                SearchAttributePair(TASK_ID, request.task_id or ""),
                SearchAttributePair(TRIGGER, request.trigger),
                SearchAttributePair(STATUS, "pending"),
            ]
        )
    try:
        result = await workflow.execute_child_workflow(
            TASK_RUN_WORKFLOW,
            request,
            id=workflow_id_for(request.run_id),
            result_type=TaskRunSummary,
            parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
            execution_timeout=None if request.max_concurrency else backstop_timeout(request.timeout_seconds),
            search_attributes=attributes,
            static_summary=summary,
        )
    except ChildWorkflowError as error:
        if isinstance(error.cause, TemporalCancelledError):
            raise asyncio.CancelledError() from None
        raise ChildFailed({**child_error(error), "task_run_id": request.run_id}) from None
    if result.status != "completed":
        raise ChildFailed(run_error(result.error_type or "ChildRunFailed", f"the run ended {result.status}"))
    return result
