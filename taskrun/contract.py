"""The contract between the run workflows and everything that talks to them.

Names (workflows, signal, search attributes), run statuses, the run error shape, and the
workflow and activity payloads (plain dataclasses: JSON on the wire). A leaf: it imports
nothing from the product, so every layer can share one copy of each fact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from temporalio.common import SearchAttributeKey

TASK_RUN_WORKFLOW = "TaskRunWorkflow"
WORKFLOW_RUN_WORKFLOW = "WorkflowRunWorkflow"
NODE_STATES_QUERY = "node_states"
SEMAPHORE_WORKFLOW = "TaskConcurrencyWorkflow"
HUMAN_RESPONDED_SIGNAL = "human_responded"
"""The signal that carries a person's answer to a paused run."""
HUMAN_RESPONDED_FIELDS = ("question_id", "answer", "answered_by", "source", "via_api")
"""The fields of the signal's payload (the API sends all of them, a hand-sent one may omit some)."""

RUN_STATUSES = ("pending", "running", "paused", "completed", "failed", "cancelled", "timed_out")
TERMINAL_RUN_STATUSES = ("completed", "failed", "cancelled", "timed_out")
ACTIVE_RUN_STATUSES = ("pending", "running", "paused")
WAITING_FOR_SLOT = "waiting_for_slot"
"""A pending run's waiting reason while its task's concurrency limit holds it back."""

TASK_NAME = SearchAttributeKey.for_keyword("CytasksTaskName")
TASK_ID = SearchAttributeKey.for_keyword("CytasksTaskId")
TRIGGER = SearchAttributeKey.for_keyword("CytasksTrigger")
STATUS = SearchAttributeKey.for_keyword("CytasksStatus")
SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
SEARCH_ATTRIBUTE_KEYS = (TASK_NAME, TASK_ID, TRIGGER, STATUS)
SEARCH_ATTRIBUTE_NAMES = tuple(key.name for key in SEARCH_ATTRIBUTE_KEYS)

# Marks a Cy error raised by a tool, so it is not confused with a Python exception name.
CY_ERROR_PREFIX = "cy:"



def workflow_id_for(run_id: str) -> str:
    return f"taskrun-{run_id}"


def run_error(error_type: str, message: str, *, line: int = 0, column: int = 0) -> dict[str, Any]:
    """A run's error as stored and shown: line and column are 0 when no script line is at fault."""
    return {"type": error_type, "message": message, "line": line, "column": column}


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
    workflow_run_id: str | None = None
    """For a node of a workflow run: that run's id (the node run records its own row)."""
    node_instance: str | None = None
    """For a node of a workflow run: the node id, ``node[i]`` for a foreach item."""
    workflow_run_started_at: datetime | None = None
    """For a node of a workflow run: when that run started. The node's row records it (the
    workflow run is then ``running``), so the workflow run needs no transaction of its own first."""
    depth: int = 0
    """How many runs started this one through ``app::tasks::run`` (0: none)."""
    event_depth: int = 0
    """How many event rules in a row started this run (0: no rule did)."""

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
    def for_schedule(cls, *, task_id: str, input: Any) -> "TaskRunRequest":
        """A Temporal Schedule's action: no run yet (the workflow records one when it fires)
        and no script (the task's version is pinned then)."""
        return cls(run_id="", script="", task_id=task_id, input=input, trigger="schedule")

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
    start: RunStarted | None = None
    """The run's start, when nothing has recorded it yet: the activity records it beside the call."""


@dataclass
class ToolResult:
    value: Any = None
    llm_usage: dict[str, int] | None = None
    start_recorded: bool = False
    """The invocation's ``start`` is in the database (a tool that failed says nothing)."""


@dataclass
class RunStarted:
    run_id: str
    started_at: datetime
    workflow_run_id: str
    node_run: TaskRunRequest | None = None
    """A workflow node's run, whose row does not exist yet: recorded from this request."""


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
    start: RunStarted | None = None
    """The run's start when it was not recorded on its own (a script that never waited on
    anything): recorded in the same transaction as the end."""
    source: "EventSource | None" = None
    """What the run's end event says about the run (None: the run makes no event)."""


@dataclass
class EventSource:
    """The facts about a run its end event carries, besides its status and error."""

    task_id: str | None
    task_name: str | None
    task_version: int | None
    trigger: str
    depth: int = 0
    workflow_run_id: str | None = None

    @classmethod
    def of(cls, request: "TaskRunRequest") -> "EventSource":
        return cls(
            task_id=request.task_id,
            task_name=request.task_name,
            task_version=request.task_version,
            trigger=request.trigger,
            depth=request.event_depth,
            workflow_run_id=request.workflow_run_id,
        )


@dataclass
class RunRecorded:
    """What finish_run stored: the status may differ from the one asked for (an output that
    breaks the output_schema, or one the database refuses, fails the run)."""

    status: str
    error: dict[str, Any] | None = None
    event: dict[str, Any] | None = None
    """The run's end event, when a rule or alert listens to it (else None: nothing to deliver)."""
    subscribers: list[dict[str, Any]] = field(default_factory=list)
    """The rules and alerts it goes to: ``{"kind": "rule" | "alert", "id": ...}``."""


EVENT_DELIVERY_ATTEMPTS = 8
"""How often the delivery of a run's event is tried (backing off from 1 s to 30 s) before the
run's workflow gives up on it (the delivery rows then say ``failed``)."""


EVENT_DELIVERY_WORKFLOW = "EventDelivery"
"""Delivers one event, apart from the run that made it (whose workflow does not wait for it)."""


def event_delivery_workflow_id(event_id: str) -> str:
    return f"events-{event_id}"


@dataclass
class EventDeliveryRequest:
    """Deliver one event to the rules and alerts it matched (each at most once)."""

    event: dict[str, Any]
    subscribers: list[dict[str, Any]]


@dataclass
class ScheduledRunPrepared:
    """prepare_scheduled_run's answer for a fire that started late and is listened to (else the
    plain request, as earlier versions answered): the run's request and its ``schedule.missed``
    event with the rules and alerts to deliver it to."""

    request: TaskRunRequest
    event: dict[str, Any]
    subscribers: list[dict[str, Any]] = field(default_factory=list)


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
    llm_usage: dict[str, int] | None = None


def workflow_run_workflow_id(workflow_run_id: str) -> str:
    return f"workflowrun-{workflow_run_id}"


@dataclass
class WorkflowRunRequest:
    """Everything a workflow run needs, pinned when it starts: the graph and, per task node,
    the request of the task version it runs (``run_id`` empty: each node run gets its own)."""

    workflow_run_id: str
    graph: dict[str, Any]
    tasks: dict[str, TaskRunRequest]
    input: Any = None
    workflow_name: str | None = None
    workflow_version: int | None = None
    trigger: str = "api"
    track_status: bool = False
    """Whether node runs carry the Cytasks search attributes (the server has them registered)."""
    workflow_id: str | None = None
    """The workflow's id; set by a schedule's action, which has no run yet (``workflow_run_id``
    empty, no graph): the workflow records the run and pins the versions when it fires."""
    scheduled_time: datetime | None = None
    """The fire time of the schedule that started the run."""
    event_depth: int = 0
    """How many event rules in a row started this run (its node runs and end event carry it)."""

    @classmethod
    def for_schedule(cls, *, workflow_id: str, input: Any) -> "WorkflowRunRequest":
        """A Temporal Schedule's action: only the workflow and the input."""
        return cls(workflow_run_id="", graph={}, tasks={}, input=input, trigger="schedule", workflow_id=workflow_id)


@dataclass
class ChildTaskRequest:
    """A script calls ``app::tasks::run(task, input)``: the run to record and start as its child."""

    parent_run_id: str
    task: str
    input: Any
    depth: int
    event_depth: int = 0
    """The calling run's: a run a script starts is as many rule runs deep as its caller."""


@dataclass
class WorkflowRunStarted:
    workflow_run_id: str
    started_at: datetime


@dataclass
class NodeRunRequest:
    """A node asks for a task run row before it starts the run's workflow as a child."""

    workflow_run_id: str
    node_instance: str
    """The node id, and for foreach items ``node[index]``."""
    run: TaskRunRequest
    """The node's request with its run id and input set."""


@dataclass
class WorkflowRunFinished:
    workflow_run_id: str
    status: str
    completed_at: datetime
    output: Any = None
    error: dict[str, Any] | None = None
    nodes: dict[str, Any] = field(default_factory=dict)
    depth: int = 0
    """The run's event depth, for its end event."""
    started_at: datetime | None = None
    """When the run started, for a run whose start no node run recorded (None: its end)."""


@dataclass
class WorkflowRunSummary:
    workflow_run_id: str
    status: str
    error_type: str | None = None
    failed_node: str | None = None


@dataclass
class QuestionOpened:
    """A hi-latency call asked a question: record it and mark the run paused."""

    question: dict[str, Any]
    source: EventSource | None = None
    """The run's facts for its ``question.created`` event (absent in older histories: no event)."""


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
    source: EventSource | None = None
    """The run's facts for a ``question.expired`` event (absent in older histories: no event)."""
    question: dict[str, Any] | None = None
    """The question, for its ``question.expired`` event."""


@dataclass
class QuestionRecorded:
    """open_question's answer when alerts watch how long the question waits or rules listen to
    its ``question.created`` (else a plain ``bool``, whether the question has a notifier, as
    earlier versions answered)."""

    notify: bool
    waiting_alerts: list[dict[str, Any]] = field(default_factory=list)
    """``{"id", "seconds"}`` of each alert on a question unanswered after ``seconds``."""
    event: dict[str, Any] | None = None
    """The ``question.created`` event, when rules listen to it."""
    subscribers: list[dict[str, Any]] = field(default_factory=list)
    """The rules it goes to: ``{"kind": "rule", "id": ...}``."""


@dataclass
class QuestionOutcome:
    """What the database says about a question once the workflow closes it."""

    status: str
    """'answered', 'expired', or 'rejected' (the answer was not accepted: see reason)."""
    answer: Any = None
    answered_by: str | None = None
    reason: str | None = None
    event: dict[str, Any] | None = None
    """The ``question.expired`` event, when rules listen to it."""
    subscribers: list[dict[str, Any]] = field(default_factory=list)


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
class SlotAnswer:
    """request_slot's answer when the run is queued and alerts watch how long it waits (else a
    plain ``bool``: granted at once or not, as earlier versions answered)."""

    granted: bool
    pending_alerts: list[dict[str, Any]] = field(default_factory=list)
    """``{"id", "seconds"}`` of each alert on a run pending longer than ``seconds``."""


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


def semaphore_id_for(task_id: str) -> str:
    """One semaphore per task: the workflow id is derived from the task id."""
    return f"taskslots-{task_id}"
