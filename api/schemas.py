"""Request and response bodies of the HTTP API (kept apart from the database models)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from enum import Enum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BeforeValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt

from taskrun.contract import TERMINAL_RUN_STATUSES


T = TypeVar("T")

CY_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
INT32_MAX = 2**31 - 1
"""The largest value of a Postgres INTEGER column."""
MAX_TIMEOUT_SECONDS = 30 * 24 * 3600
CY_NAME_MAX_LENGTH = 100


class TaskStatus(str, Enum):
    enabled = "enabled"
    disabled = "disabled"
    archived = "archived"


class TaskScope(str, Enum):
    input = "input"
    processing = "processing"
    output = "output"


class TaskMode(str, Enum):
    saved = "saved"
    ad_hoc = "ad_hoc"


class OriginType(str, Enum):
    system = "system"
    user = "user"
    pack = "pack"


class RunStatus(str, Enum):
    pending = "pending"
    running = "running"
    paused = "paused"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"
    timed_out = "timed_out"


TERMINAL_STATUSES = frozenset(TERMINAL_RUN_STATUSES)


class Trigger(str, Enum):
    api = "api"
    adhoc = "adhoc"
    schedule = "schedule"
    workflow_node = "workflow_node"
    cli = "cli"
    ui = "ui"
    task = "task"
    webhook = "webhook"
    mcp = "mcp"
    event = "event"


# Values a client may claim with the X-Cytasks-Trigger header.
CLIENT_TRIGGERS = ("cli", "ui", "mcp")


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("the instant is outside the years 1 to 9999 once converted to UTC") from None


def _not_a_number(value: Any) -> Any:
    if isinstance(value, (int, float)) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
        raise ValueError("expected an ISO 8601 date-time such as 2026-01-31T08:00:00Z, not a number")
    return value


_NUMBER = re.compile(r"[-+]?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?")
UtcDatetime = Annotated[datetime, BeforeValidator(_not_a_number), AfterValidator(_as_utc)]
"""An ISO 8601 instant, UTC when it has no offset."""


class LLMConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    provider: str | None = None
    model: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, gt=0, le=INT32_MAX)


class DataSample(BaseModel):
    """An example input of a task, optionally with an expectation and canned tool results
    (docs/testing.md)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=255)
    description: str | None = None
    input: Any = None
    expected_output: Any = Field(
        default=None,
        description="The exact output, or a JSON Schema (an object with a `$schema` key) the output must "
        "satisfy; null: no expectation",
    )
    tool_results: dict[str, Any] | None = Field(
        default=None,
        description="Canned answers by tool name: `{\"result\": V}` or `{\"error\": \"message\"}` for every call, "
        "a list of them consumed in order, each optionally with `\"when\": {arg: value}`",
    )


CyName = Field(default=None, pattern=CY_NAME_PATTERN, max_length=CY_NAME_MAX_LENGTH)


class _TaskFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = None
    directive: str | None = Field(default=None, description="Instruction given to LLM calls as the system message")
    function: str | None = Field(
        default=None, max_length=64, description="summarization, data_conversion, extraction, reasoning, ..."
    )
    scope: TaskScope | None = None
    mode: TaskMode | None = None
    input_schema: dict[str, Any] | None = Field(default=None, description="JSON Schema the run input must match")
    output_schema: dict[str, Any] | None = None
    data_samples: list[DataSample] | None = None
    llm_config: LLMConfig | None = None
    timeout_seconds: int | None = Field(default=None, gt=0, le=MAX_TIMEOUT_SECONDS)
    max_concurrency: int | None = Field(default=None, gt=0, le=INT32_MAX)
    integration_id: str | None = None
    origin_type: OriginType | None = None
    managed_resource_key: str | None = None
    test_on_save: bool | None = Field(
        default=None,
        description="Refuse (422 with the report) a change whose new version or samples fail the task's data samples",
    )


class TaskCreate(_TaskFields):
    name: str = Field(min_length=1, max_length=255)
    cy_name: str | None = CyName
    script: str = Field(description="The Cy source")
    status: TaskStatus = TaskStatus.enabled
    scope: TaskScope = TaskScope.processing
    mode: TaskMode = TaskMode.saved
    origin_type: OriginType = OriginType.user
    test_on_save: bool = False


class TaskUpdate(_TaskFields):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    cy_name: str | None = CyName
    script: str | None = None
    status: TaskStatus | None = None


class TaskRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    cy_name: str
    version: int
    status: TaskStatus
    script: str
    description: str | None = None
    directive: str | None = None
    function: str | None = None
    scope: str | None = None
    mode: str | None = None
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    data_samples: list[Any] | None = None
    llm_config: dict[str, Any] | None = None
    timeout_seconds: int | None = None
    max_concurrency: int | None = None
    integration_id: str | None = None
    origin_type: str | None = None
    managed_resource_key: str | None = None
    test_on_save: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str | None = Field(default=None, description="The API key that created the task")


class TaskVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    task_id: uuid.UUID
    version: int
    script: str
    directive: str | None = None
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    llm_config: dict[str, Any] | None = None
    timeout_seconds: int | None = None
    max_concurrency: int | None = None
    created_at: datetime | None = None
    created_by: str | None = Field(default=None, description="The API key whose change made this version")


class ExecuteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: Any = Field(default=None, description="The run input (any JSON value)")
    version: int | None = Field(
        default=None, ge=1, le=INT32_MAX, description="Run this version of the task (default: the current one)"
    )


class AdHocExecuteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    script: str = Field(min_length=1, description="The Cy source to run")
    input: Any = None
    timeout_seconds: int | None = Field(default=None, gt=0, le=MAX_TIMEOUT_SECONDS)


class RunError(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    message: str
    line: int | None = None
    column: int | None = None


class ScriptCheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    script: str = Field(min_length=1, description="The Cy source to compile")


class ScriptCheck(BaseModel):
    valid: bool = Field(description="True when the script compiles against the tool registry")
    errors: list[RunError] = Field(description="Every compile-time error: type, message, line and column")


class TaskRunRead(BaseModel):
    id: uuid.UUID
    task_id: uuid.UUID | None = None
    task_version: int | None = None
    status: RunStatus
    waiting_reason: str | None = Field(
        default=None,
        description="Why a `pending` run has not started: `waiting_for_slot` while the task's "
        "`max_concurrency` runs are executing (it starts, in order, when one ends)",
    )
    trigger: str
    input: Any = None
    output: Any = None
    error: RunError | None = None
    logs_count: int = 0
    llm_usage: dict[str, Any] | None = None
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: int | None = None
    workflow_id: str | None = None
    scheduled_time: datetime | None = None
    """For runs a schedule started: the time the fire was due."""
    backfill_id: str | None = None
    """For runs a schedule backfill started: the backfill request's id."""
    parent_workflow_run_id: str | None = Field(
        default=None, description="For a workflow node's run (trigger `workflow_node`): the workflow run it belongs to"
    )
    workflow_node_instance_id: str | None = Field(
        default=None, description="For a workflow node's run: the node id (`node[3]` for the fourth item of a foreach)"
    )
    created_by: str | None = Field(default=None, description="The API key that started the run (or the schedule)")
    payloads_visible: bool = Field(
        default=True,
        description="False when the caller may not read this run's input and output (they are null): "
        "that needs the `payloads` role, or being the `runner` that started the run",
    )
    payloads_missing: list[str] = Field(
        default_factory=list,
        description="`input` and/or `output` when the blob store no longer holds them (they are null)",
    )


class LogEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    seq: int | None = None
    message: str
    created_at: datetime | None = None


class RunLogs(BaseModel):
    run_id: uuid.UUID
    items: list[LogEntry]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` to get the next page; null at the end")


class Health(BaseModel):
    status: str
    checks: dict[str, str] | None = None


# -- workflows ---------------------------------------------------------------------------------

WORKFLOW_NAME = {
    "min_length": 1,
    "max_length": 200,
    "pattern": r"^[A-Za-z][A-Za-z0-9_.-]*$",
    "description": "Unique; letters, digits, `_`, `.` and `-`, starting with a letter (it names the workflow in paths)",
}
MAX_WORKFLOW_NODES = 200
MAX_WORKFLOW_EDGES = 2000


class WorkflowCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(**WORKFLOW_NAME)
    description: str | None = Field(default=None, max_length=10_000)
    input_schema: dict[str, Any] | None = Field(default=None, description="JSON Schema the run input must match")
    nodes: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_WORKFLOW_NODES,
        description="`{id, kind?, task?, version?, description?, on_error?, items?, concurrency?}`; kind defaults to `task`",
    )
    edges: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_WORKFLOW_EDGES, description="`{from, to}`")


class WorkflowUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, **WORKFLOW_NAME)
    description: str | None = Field(default=None, max_length=10_000)
    input_schema: dict[str, Any] | None = None
    nodes: list[dict[str, Any]] | None = Field(default=None, min_length=1, max_length=MAX_WORKFLOW_NODES)
    edges: list[dict[str, Any]] | None = Field(default=None, max_length=MAX_WORKFLOW_EDGES)
    status: TaskStatus | None = None


class WorkflowRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None = None
    status: TaskStatus
    version: int
    input_schema: dict[str, Any] | None = None
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    created_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class WorkflowVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    workflow_id: uuid.UUID
    version: int
    name: str
    description: str | None = None
    input_schema: dict[str, Any] | None = None
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    created_by: str | None = None
    created_at: datetime | None = None


class WorkflowExecuteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: Any = Field(default=None, description="The run input (any JSON value)")
    version: int | None = Field(default=None, ge=1, le=INT32_MAX, description="Run this version (default: the current one)")


class WorkflowNodeRead(BaseModel):
    node_id: str
    kind: str
    task: str | None = None
    task_version: int | None = None
    status: str = Field(description="pending, running, paused, completed, failed, cancelled or skipped")
    continued: bool = Field(default=False, description="The node failed and its on_error is `continue`")
    task_run_id: str | None = None
    task_run_ids: list[str] = Field(default_factory=list, description="The node's task runs (one per item for foreach)")
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: int | None = None
    llm_usage: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    question: dict[str, Any] | None = Field(default=None, description="The pending question of a paused node")


class WorkflowRunListed(BaseModel):
    id: uuid.UUID
    workflow_id: uuid.UUID | None = None
    workflow_name: str | None = None
    workflow_version: int | None = None
    status: RunStatus
    trigger: str
    error: dict[str, Any] | None = None
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: int | None = None
    temporal_workflow_id: str | None = None
    scheduled_time: datetime | None = Field(default=None, description="The fire time, for a run a schedule started")
    backfill_id: str | None = Field(default=None, description="The backfill request that started the run")
    created_by: str | None = None
    cancel_requested: bool = False


class WorkflowRunRead(WorkflowRunListed):
    input: Any = None
    output: Any = None
    payloads_visible: bool = True
    nodes: list[WorkflowNodeRead] = Field(default_factory=list)


class WorkflowGraphRead(BaseModel):
    workflow_run_id: uuid.UUID
    status: RunStatus
    nodes: list[dict[str, Any]] = Field(description="`{id, kind, task, status, task_run_ids}` per node")
    edges: list[dict[str, Any]] = Field(description="`{from, to, state}`: `taken` once its source ended, else `waiting`")


# -- task testing ------------------------------------------------------------------------------

MAX_TEST_SAMPLES = 200
MAX_REPLAY_BATCH = 100


class TaskTestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(
        default=None, ge=1, le=INT32_MAX, description="Test this saved version (default: the current one)"
    )
    script: str | None = Field(default=None, min_length=1, description="Test this unsaved Cy source instead of a version")
    samples: list[DataSample] | None = Field(
        default=None, max_length=MAX_TEST_SAMPLES, description="Test these samples (default: the task's data_samples)"
    )


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: uuid.UUID = Field(description="A finished run of this task")
    version: int | None = Field(default=None, ge=1, le=INT32_MAX, description="Replay against this version (default: the current one)")
    script: str | None = Field(default=None, min_length=1, description="Replay against this unsaved Cy source")


class ReplayBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(default=None, ge=1, le=INT32_MAX)
    script: str | None = Field(default=None, min_length=1)
    last: int | None = Field(
        default=None, ge=1, le=MAX_REPLAY_BATCH, description="Replay the last N completed runs (within the time range, if one is given)"
    )
    created_after: UtcDatetime | None = Field(default=None, description="Runs created at or after this instant")
    created_before: UtcDatetime | None = Field(default=None, description="Runs created before this instant")


class SampleSummary(BaseModel):
    total: int
    passed: int
    failed: int


class SampleResult(BaseModel):
    index: int
    name: str | None = None
    status: str = Field(description="`passed` or `failed`")
    passed: bool
    output: Any = None
    error: dict[str, Any] | None = Field(default=None, description="The script's error: type, message, line, column")
    reason: str | None = Field(default=None, description="Why the sample failed, in one line")
    diff: list[dict[str, Any]] = Field(description="Differences from an exact expected_output: `{path, kind, expected?, actual?}`")
    expectation_failures: list[dict[str, Any]] = Field(description="Where the output fails an expected_output JSON Schema")
    output_schema_failures: list[dict[str, Any]] = Field(description="Where the output fails the task's output_schema")
    logs: list[str]
    tool_calls: list[dict[str, Any]] = Field(description="Every call answered from tool_results (and sleep): `{tool, args, line, column}`")


class TaskTestReport(BaseModel):
    task_id: uuid.UUID
    version: int | None = Field(default=None, description="The version tested; null for an unsaved script")
    samples_from: str = Field(description="`task` (its data_samples) or `request`")
    summary: SampleSummary
    items: list[SampleResult]


class ReplayResult(BaseModel):
    run_id: uuid.UUID
    recorded_version: int | None = None
    recorded_status: str
    outcome: str = Field(description="`same`, `different` (see `diff`) or `failed`")
    output: Any = None
    recorded_output: Any = None
    diff: list[dict[str, Any]] = Field(description="From the recorded output to the new one: `{path, kind, expected?, actual?}`")
    error: dict[str, Any] | None = None
    output_schema_failures: list[dict[str, Any]]
    logs: list[str]
    tool_calls: list[dict[str, Any]]
    recorded_calls: int = Field(description="How many tool calls the recorded run made")


class ReplayReport(ReplayResult):
    task_id: uuid.UUID
    version: int | None = Field(default=None, description="The version replayed; null for an unsaved script")


class ReplayBatchSummary(BaseModel):
    total: int
    same: int
    different: int
    failed: int


class ReplayBatchReport(BaseModel):
    task_id: uuid.UUID
    version: int | None = None
    summary: ReplayBatchSummary
    more: bool = Field(description="More completed runs match than were replayed")
    items: list[ReplayResult]
class StatsWindow(str, Enum):
    h24 = "24h"
    d7 = "7d"
    d30 = "30d"


class DurationFigures(BaseModel):
    p50: int | None = Field(default=None, description="Estimated median duration (ms), from the rollups' histogram")
    p95: int | None = None
    p99: int | None = None
    mean: int | None = Field(default=None, description="Exact mean duration (ms)")


class StatsPoint(BaseModel):
    start: datetime
    total: int
    by_status: dict[str, int]


class ErrorTypeCount(BaseModel):
    type: str
    count: int
    latest_run_id: uuid.UUID


class TaskSummary(BaseModel):
    task_id: uuid.UUID
    cy_name: str | None = None
    name: str | None = None


class FailingTask(TaskSummary):
    runs: int
    failed: int = Field(description="Runs that ended failed or timed_out")
    failure_rate: float


class SlowTask(TaskSummary):
    runs: int
    duration_ms: DurationFigures


class RunStatsRead(BaseModel):
    window: StatsWindow
    period: str = Field(description="`hour` (24h) or `day` (7d, 30d): the step of `series`")
    since: datetime
    until: datetime
    task: TaskSummary | None = None
    runs: int = Field(description="Runs that finished in the window")
    by_status: dict[str, int]
    by_trigger: dict[str, int]
    success_rate: float | None = Field(description="Completed runs over finished runs; null without runs")
    duration_ms: DurationFigures
    errors: list[ErrorTypeCount]
    llm_tokens: dict[str, int]
    active: dict[str, int] = Field(description="Runs pending, running and paused now")
    series: list[StatsPoint]
    top_failing: list[FailingTask] | None = Field(default=None, description="All-task statistics only")
    slowest: list[SlowTask] | None = Field(
        default=None, description="All-task statistics only: the highest mean durations"
    )


HOOK_REPLAY_WINDOW_MAX_SECONDS = 3600
HOOK_HEADER_NAME_PATTERN = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$"
HOOK_SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "cookie2",
        "set-cookie",
        "x-api-key",
        "x-cytasks-signature",
    }
)
"""Headers a hook may not copy into a run's input: they carry the caller's credentials (the API
key travels in ``Authorization``; ``X-Cytasks-Signature`` is made with the hook's secret)."""


class HookAuth(str, Enum):
    signature = "signature"
    api_key = "api_key"


def _header_names(names: list[str]) -> list[str]:
    lowered = [name.lower() for name in names]
    refused = sorted(set(lowered) & HOOK_SECRET_HEADERS)
    if refused:
        raise ValueError(f"{', '.join(refused)} carry credentials and cannot be passed into a run's input")
    return sorted(set(lowered))


def _json_pointer(value: str | None) -> str | None:
    from jsonpointer import JsonPointer, JsonPointerException

    if value is None:
        return None
    try:
        pointer = JsonPointer(value)
    except JsonPointerException as error:
        raise ValueError(f"not a JSON pointer (RFC 6901) such as /id or /event/id: {error}") from None
    if "-" in pointer.parts:
        raise ValueError("a '-' token points past the end of an array, where no value is: name an index or key")
    return value


HookHeaders = Annotated[
    list[Annotated[str, Field(pattern=HOOK_HEADER_NAME_PATTERN)]],
    Field(max_length=50),
    AfterValidator(_header_names),
]
HookDedupKey = Annotated[str | None, Field(max_length=500), AfterValidator(_json_pointer)]


class HookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=255, description="A label for people")
    enabled: StrictBool = Field(default=True, description="A disabled hook answers deliveries 409 and starts nothing")
    auth: HookAuth = Field(
        default=HookAuth.signature,
        description="`signature`: deliveries carry `X-Cytasks-Timestamp` and `X-Cytasks-Signature` (HMAC-SHA256 "
        "with the hook's secret); `api_key`: deliveries carry `Authorization: Bearer <key>` of a key that may "
        "execute runs",
    )
    headers: HookHeaders = Field(
        default_factory=list,
        description="Request header names (case-insensitive) copied into the run input's `headers`",
    )
    dedup_key: HookDedupKey = Field(
        default=None,
        description="A JSON pointer (RFC 6901) into the body; a delivery whose value there was seen before "
        "starts no run and is answered with the first delivery's run",
    )
    replay_window_seconds: StrictInt = Field(
        default=300,
        ge=1,
        le=HOOK_REPLAY_WINDOW_MAX_SECONDS,
        description="A signed delivery whose `X-Cytasks-Timestamp` is further than this from the server's "
        "clock is refused 401",
    )


class HookUpdate(BaseModel):
    """Only the fields sent change; `name` and `dedup_key` are cleared with null."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=255)
    enabled: StrictBool | None = None
    auth: HookAuth | None = None
    headers: HookHeaders | None = None
    dedup_key: HookDedupKey = None
    replay_window_seconds: StrictInt | None = Field(default=None, ge=1, le=HOOK_REPLAY_WINDOW_MAX_SECONDS)


class HookRead(BaseModel):
    id: uuid.UUID
    url: str = Field(description="Where deliveries are POSTed: absolute when `CYTASKS_PUBLIC_API_URL` is set")
    task_id: uuid.UUID | None = None
    workflow_id: uuid.UUID | None = None
    name: str | None = None
    enabled: bool
    auth: HookAuth
    headers: list[str]
    dedup_key: str | None = None
    replay_window_seconds: int
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime
    secret_rotated_at: datetime | None = None


class HookCreated(HookRead):
    secret: str = Field(description="The signing secret; shown only in this answer")


class HookDelivered(BaseModel):
    run_id: uuid.UUID
    run_type: str = Field(description="`task_run` or `workflow_run` (read it at the `Location` header)")
    status: RunStatus
    deduplicated: bool = Field(
        description="True when the `dedup_key` value was delivered before: no run was started, `run_id` is "
        "the first delivery's"
    )
