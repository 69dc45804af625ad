"""What a closed TaskRun workflow means for its row: the terminal status and the error to record.

A workflow records its run's end itself before it closes; this is for workflows closed from
outside (terminated, timed out, reset, cancelled before they could act) that never did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from temporalio.client import WorkflowExecutionStatus

from .contract import run_error

FORCED_CANCEL_REASON = "cytasks: cancel forced"


@dataclass(frozen=True)
class WorkflowOutcome:
    state: str
    """``open``, ``missing`` (Temporal does not know the workflow id), ``closed``, or ``stuck``
    (open, but its workflow task keeps failing: ``error`` says why)."""
    status: str | None = None
    error: dict[str, Any] | None = None
    closed_at: datetime | None = None

    OPEN: ClassVar[WorkflowOutcome]
    MISSING: ClassVar[WorkflowOutcome]

    @property
    def closed(self) -> bool:
        return self.state == "closed"


WorkflowOutcome.OPEN = WorkflowOutcome("open")
WorkflowOutcome.MISSING = WorkflowOutcome("missing")


def outcome_of_closed(
    temporal_status: WorkflowExecutionStatus,
    close_event: Any,
    *,
    closed_at: datetime | None,
    execution_timeout_seconds: float | None,
    cancel_requested: bool,
) -> WorkflowOutcome:
    """``close_event`` is the last history event (a ``temporalio.api.history.v1.HistoryEvent``)."""
    status, error = _status_and_error(temporal_status, close_event, execution_timeout_seconds)
    if cancel_requested and status == "failed" and temporal_status == WorkflowExecutionStatus.TERMINATED:
        status = "cancelled"
    return WorkflowOutcome("closed", status, error, closed_at)


def _status_and_error(
    temporal_status: WorkflowExecutionStatus, event: Any, execution_timeout_seconds: float | None
) -> tuple[str, dict[str, Any]]:
    if temporal_status == WorkflowExecutionStatus.TERMINATED:
        attributes = event.workflow_execution_terminated_event_attributes if event else None
        reason = attributes.reason if attributes else ""
        identity = attributes.identity if attributes else ""
        message = "The workflow was terminated in Temporal"
        if reason:
            message += f": {reason}"
        if identity:
            message += f" (by {identity})"
        return "failed", run_error("WorkflowTerminated", message)
    if temporal_status == WorkflowExecutionStatus.TIMED_OUT:
        limit = f" of {execution_timeout_seconds:g} s" if execution_timeout_seconds else ""
        return "timed_out", run_error(
            "WorkflowTimedOut", f"The workflow exceeded its Temporal execution timeout{limit}"
        )
    if temporal_status == WorkflowExecutionStatus.CANCELED:
        return "cancelled", run_error(
            "WorkflowCancelled", "The workflow was cancelled in Temporal before it recorded the run's end"
        )
    if temporal_status == WorkflowExecutionStatus.FAILED:
        attributes = event.workflow_execution_failed_event_attributes if event else None
        cause = attributes.failure.message if attributes and attributes.failure.message else "no reason given"
        return "failed", run_error("WorkflowFailed", f"The workflow failed in Temporal: {cause}")
    return "failed", run_error(
        "WorkflowClosedUnrecorded",
        f"The workflow closed ({temporal_status.name.lower()}) without recording the run's end",
    )
