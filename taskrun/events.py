"""The product's outbound events: their types, the event document, and how rules match it.

An event is a JSON document (see docs/events.md). A run's end makes exactly one event, whose id
is derived from the run id and the type, so every delivery of it (and every retry) names the
same event. A leaf: plain data and functions, shared by the activities, the API and the CLI.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import jsonpointer

RUN_EVENT_OF_STATUS = {
    "completed": "run.completed",
    "failed": "run.failed",
    "timed_out": "run.timed_out",
    "cancelled": "run.cancelled",
}
WORKFLOW_RUN_EVENT_OF_STATUS = {
    "completed": "workflow_run.completed",
    "failed": "workflow_run.failed",
    "cancelled": "workflow_run.cancelled",
}
SCHEDULE_MISSED = "schedule.missed"
"""A schedule's fire started its run later than CYTASKS_SCHEDULE_MISSED_AFTER_SECONDS."""
QUESTION_CREATED = "question.created"
"""A run asked a person a question (and is paused until it is answered or expires)."""
QUESTION_EXPIRED = "question.expired"
"""A question's timeout passed without an answer."""
TASK_RUN_EVENT_TYPES = (*RUN_EVENT_OF_STATUS.values(), SCHEDULE_MISSED, QUESTION_CREATED, QUESTION_EXPIRED)
"""The events about a task's runs: the ones a rule's task filter applies to."""
EMITTED_EVENT_TYPES = (*TASK_RUN_EVENT_TYPES, *WORKFLOW_RUN_EVENT_OF_STATUS.values())
"""The event types this version emits (rules may subscribe to these)."""

PENDING_EVENT = "run.pending_too_long"
"""Alerts only: a run has waited longer than an alert's ``pending_over_seconds`` for a slot."""

QUESTION_WAITING_EVENT = "question.waiting_too_long"
"""Alerts only: a question has waited longer than an alert's ``question_waiting_over_seconds``."""

ALERT_KINDS = {"failed": "run.failed", "timed_out": "run.timed_out"}
"""What an alert's ``on`` may name, and the event each one rides on."""

EVENTS_NAMESPACE = uuid.UUID("6f0e4c52-3a8e-4c43-9b57-2f1d8a2b9c10")


def event_id_for(source_run_id: str, event_type: str) -> str:
    return str(uuid.uuid5(EVENTS_NAMESPACE, f"{source_run_id}/{event_type}"))


def run_event(
    *,
    run_id: str,
    status: str,
    occurred_at: datetime,
    task_id: str | None,
    task_name: str | None,
    task_version: int | None,
    trigger: str,
    error: dict[str, Any] | None,
    depth: int,
    workflow_run_id: str | None = None,
) -> dict[str, Any]:
    """The event a run's end makes (``run.<status>``)."""
    event_type = RUN_EVENT_OF_STATUS[status]
    return {
        "id": event_id_for(run_id, event_type),
        "type": event_type,
        "occurred_at": occurred_at.isoformat(),
        "run_id": run_id,
        "task_id": task_id,
        "task_name": task_name,
        "task_version": task_version,
        "status": status,
        "error": error,
        "trigger": trigger,
        "depth": depth,
        "workflow_run_id": workflow_run_id,
    }


def workflow_run_event(
    *, workflow_run: Any, status: str, occurred_at: datetime, error: dict[str, Any] | None, depth: int = 0
) -> dict[str, Any]:
    """The event a workflow run's end makes (``workflow_run.<status>``); ``workflow_run`` is its row."""
    event_type = WORKFLOW_RUN_EVENT_OF_STATUS[status]
    run_id = str(workflow_run.id)
    return {
        "id": event_id_for(run_id, event_type),
        "type": event_type,
        "occurred_at": occurred_at.isoformat(),
        "workflow_run_id": run_id,
        "workflow_id": str(workflow_run.workflow_id) if workflow_run.workflow_id else None,
        "workflow_name": workflow_run.workflow_name,
        "workflow_version": workflow_run.workflow_version,
        "status": status,
        "error": error,
        "trigger": workflow_run.trigger,
        "depth": depth,
    }


def schedule_missed_event(
    *, run_id: str, task_id: str, task_name: str, scheduled_time: datetime, occurred_at: datetime, late_seconds: float
) -> dict[str, Any]:
    """The event of a schedule fire whose run starts ``late_seconds`` after its fire time."""
    return {
        "id": event_id_for(run_id, SCHEDULE_MISSED),
        "type": SCHEDULE_MISSED,
        "occurred_at": occurred_at.isoformat(),
        "run_id": run_id,
        "task_id": task_id,
        "task_name": task_name,
        "status": "pending",
        "error": None,
        "trigger": "schedule",
        "depth": 0,
        "scheduled_time": scheduled_time.isoformat(),
        "late_seconds": round(late_seconds, 3),
    }


def pending_event(
    *, run_id: str, occurred_at: datetime, task_id: str | None, task_name: str | None, trigger: str, depth: int, pending_seconds: float
) -> dict[str, Any]:
    """The event of a run still waiting for a concurrency slot after ``pending_seconds``."""
    return {
        "id": event_id_for(f"{run_id}/{pending_seconds:g}", PENDING_EVENT),  # one per threshold
        "type": PENDING_EVENT,
        "occurred_at": occurred_at.isoformat(),
        "run_id": run_id,
        "task_id": task_id,
        "task_name": task_name,
        "status": "pending",
        "error": None,
        "trigger": trigger,
        "depth": depth,
        "pending_seconds": pending_seconds,
        "waiting_reason": "waiting_for_slot",
    }


def question_waiting_event(*, question: dict[str, Any], occurred_at: datetime, trigger: str, depth: int, waiting_seconds: float) -> dict[str, Any]:
    """The event of a question still unanswered after ``waiting_seconds`` (one per question and threshold)."""
    return {
        "id": event_id_for(f"{question['run_id']}/{question['id']}/{waiting_seconds:g}", QUESTION_WAITING_EVENT),
        "type": QUESTION_WAITING_EVENT,
        "occurred_at": occurred_at.isoformat(),
        "run_id": question["run_id"],
        "task_id": question.get("task_id"),
        "task_name": question.get("task_name"),
        "status": "paused",
        "error": None,
        "trigger": trigger,
        "depth": depth,
        "waiting_seconds": waiting_seconds,
        "question": {key: question.get(key) for key in ("id", "question", "responses", "assignees", "created_at", "timeout_at")},
    }


QUESTION_EVENT_FIELDS = ("id", "question", "responses", "assignees", "timeout_at", "tool", "line")


def question_event(
    *, event_type: str, question: dict[str, Any], occurred_at: datetime, task_version: int | None, trigger: str, depth: int
) -> dict[str, Any]:
    """The event of a question opened (``question.created``) or left unanswered past its
    timeout (``question.expired``); its id is derived from the run, the question and the type."""
    return {
        "id": event_id_for(f"{question['run_id']}/{question['id']}", event_type),
        "type": event_type,
        "occurred_at": occurred_at.isoformat(),
        "run_id": question["run_id"],
        "task_id": question.get("task_id"),
        "task_name": question.get("task_name"),
        "task_version": task_version,
        "status": "paused" if event_type == QUESTION_CREATED else "running",
        "error": None,
        "trigger": trigger,
        "depth": depth,
        "question": {key: question.get(key) for key in QUESTION_EVENT_FIELDS},
    }


class InvalidPointer(ValueError):
    pass


def check_pointer(pointer: str) -> None:
    """Raise InvalidPointer unless ``pointer`` is an RFC 6901 JSON pointer."""
    try:
        jsonpointer.JsonPointer(pointer)
    except jsonpointer.JsonPointerException as error:
        raise InvalidPointer(str(error)) from None


def matches(event: dict[str, Any], conditions: list[dict[str, Any]] | None) -> bool:
    """Whether every ``{pointer, equals}`` condition holds in the event (a pointer that
    resolves to nothing does not match)."""
    missing = object()
    for condition in conditions or []:
        try:
            found = jsonpointer.resolve_pointer(event, condition["pointer"], missing)
        except jsonpointer.JsonPointerException:
            return False
        if found is missing or not json_equal(found, condition.get("equals")):
            return False
    return True


def json_equal(left: Any, right: Any) -> bool:
    """Equality of JSON values: ``true`` is not ``1``, ``1`` is ``1.0``, objects and arrays
    compare member by member."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[key], right[key]) for key in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right))
    if isinstance(left, (dict, list)) or isinstance(right, (dict, list)):
        return False
    return left == right


def target_run_id(subscriber_id: str, event: dict[str, Any]) -> uuid.UUID:
    """The id of the run a rule starts for an event: the same for every attempt. A UUIDv7 whose
    time is the event's (the run's partition) and whose other bits come from the rule and event."""
    digest = uuid.uuid5(EVENTS_NAMESPACE, f"{subscriber_id}/{event['id']}").int
    unix_ms = int(datetime.fromisoformat(event["occurred_at"]).timestamp() * 1000)
    value = (unix_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((digest >> 64) & 0x0FFF) << 64
    value |= 0b10 << 62
    value |= digest & ((1 << 62) - 1)
    return uuid.UUID(int=value)
