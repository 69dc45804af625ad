"""Workflow and activity payloads (plain dataclasses: JSON on the wire)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Marks a Cy error raised by a tool, so it is not confused with a Python exception name.
CY_ERROR_PREFIX = "cy:"

def workflow_id_for(run_id: str) -> str:
    return f"taskrun-{run_id}"


@dataclass
class TaskRunRequest:
    """Everything a run needs, pinned at start: no activity round trip to load it."""

    run_id: str
    script: str
    input: Any = None
    task_id: str | None = None
    task_name: str | None = None
    task_version: int | None = None
    directive: str | None = None
    llm_config: dict[str, Any] = field(default_factory=dict)
    timeout_seconds: float | None = None
    trigger: str = "api"
    max_iterations: int | None = None
    scheduled_time: datetime | None = None
    """For schedule fires: the time the schedule action was due."""
    max_concurrency: int | None = None
    """The task's limit on runs executing at once (None: no limit, no gate)."""
    output_schema: dict[str, Any] | None = None
    """The pinned version's output_schema: a completed run's output must match it."""

    @classmethod
    def for_task(cls, *, run_id: str, task: Any, pinned: Any, input: Any, trigger: str) -> "TaskRunRequest":
        """A run of ``task`` at ``pinned``: one of its versions, or the task itself (whose
        fields are its current version)."""
        return cls(
            run_id=run_id,
            script=pinned.script,
            input=input,
            task_id=str(task.id),
            task_name=task.cy_name,
            task_version=pinned.version,
            directive=pinned.directive,
            llm_config=dict(pinned.llm_config or {}),
            timeout_seconds=pinned.timeout_seconds,
            output_schema=pinned.output_schema,
            max_concurrency=task.max_concurrency,
            trigger=trigger,
        )

    @classmethod
    def adhoc(cls, *, run_id: str, script: str, input: Any, trigger: str, timeout_seconds: float | None = None) -> "TaskRunRequest":
        return cls(run_id=run_id, script=script, input=input, trigger=trigger, timeout_seconds=timeout_seconds)


@dataclass
class ToolInvocation:
    """The argument of a tool activity; the activity type is the tool's FQN."""

    args: list[Any]
    kwargs: dict[str, Any]
    run_id: str
    task_id: str | None = None
    directive: str | None = None
    llm_config: dict[str, Any] = field(default_factory=dict)


@dataclass
class ToolResult:
    value: Any = None
    llm_usage: dict[str, int] | None = None


@dataclass
class RunStarted:
    run_id: str
    started_at: datetime
    workflow_run_id: str


@dataclass
class RunFinished:
    run_id: str
    status: str
    started_at: datetime
    completed_at: datetime
    output: Any = None
    has_output: bool = False
    error: dict[str, Any] | None = None
    logs: list[str] = field(default_factory=list)
    llm_usage: dict[str, int] | None = None
    output_schema: dict[str, Any] | None = None
    """A completed run's output must match it; otherwise the run ends failed (output kept)."""


@dataclass
class RunRecorded:
    """What finish_run stored: the status may differ from the one asked for (an output that
    breaks the output_schema, or one the database refuses, fails the run)."""

    status: str
    error: dict[str, Any] | None = None


@dataclass
class RunLogLines:
    """Log lines a running run hands over before its end (so they can be read live)."""

    run_id: str
    lines: list[str]


@dataclass
class TaskRunSummary:
    """The workflow's result: what the run ended as, and its output when it is small."""

    run_id: str
    status: str
    error_type: str | None = None
    task: str | None = None
    """``cy_name vN`` of the task, or ``ad-hoc``."""
    output: Any = None
    output_omitted: str | None = None
    """Why ``output`` is not here (too large for a workflow result): where to read it instead."""


@dataclass
class QuestionOpened:
    """A hi-latency call asked a question: record it and mark the run paused."""

    question: dict[str, Any]


@dataclass
class AnswerReceived:
    """The open question got a valid answer (through the API or a hand-sent signal)."""

    question_id: str
    run_id: str
    answer: Any
    answered_by: str | None
    source: str
    via_api: bool
    answered_at: datetime


@dataclass
class QuestionClosed:
    """The open question ends unanswered: timed out (the run resumes) or the run ended."""

    question_id: str
    run_id: str
    reason: str
    resume: bool
    closed_at: datetime


@dataclass
class QuestionOutcome:
    """What the database says about a question once the workflow closes it."""

    status: str
    """'answered', 'expired', or 'rejected' (the answer was not accepted: see reason)."""
    answer: Any = None
    answered_by: str | None = None
    reason: str | None = None


@dataclass
class SlotRequest:
    """A run asks its task's semaphore for a slot; ``holder`` is the run's workflow id."""

    task_id: str
    holder: str
    run_id: str
    limit: int
    requested_at: datetime
    task_name: str | None = None


@dataclass
class SlotRelease:
    """A run gives its slot back, or leaves the queue when it never got one."""

    task_id: str
    holder: str


@dataclass
class SemaphoreState:
    """Everything a task's semaphore knows; carried over when it continues as new."""

    task_id: str
    limit: int = 1
    task_name: str | None = None
    holders: list[SlotRequest] = field(default_factory=list)
    queue: list[SlotRequest] = field(default_factory=list)


SEMAPHORE_WORKFLOW = "TaskConcurrencyWorkflow"
WAITING_FOR_SLOT = "waiting_for_slot"


def semaphore_id_for(task_id: str) -> str:
    """One semaphore per task: the workflow id is derived from the task id."""
    return f"taskslots-{task_id}"
