"""The MCP tools: each is a thin call of the cytasks HTTP API (``gateway.ApiGateway``), so
the caller's roles, the validation and the audit log are the API's own."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any, Literal
from urllib.parse import quote

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp.types import ToolAnnotations
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import AfterValidator, ConfigDict, Field

from ..deps import MAX_WAIT_SECONDS
from .gateway import ApiGateway

GatewayProvider = Callable[[Context], AbstractAsyncContextManager[ApiGateway]]
"""Opens the gateway a tool call uses (the stdio process's own, or one per HTTP caller)."""

DEFAULT_WAIT_SECONDS = 30
POLL_SECONDS = 1.0
"""How long one long poll of a waiting tool lasts: a run that pauses is answered this soon."""
SETTLED = frozenset({"completed", "failed", "cancelled", "timed_out", "paused"})
INSTRUCTIONS = """cytasks runs automation Tasks written in Cy, a small sandboxed scripting language.
Check a script with check_script before saving it with create_task or update_task. run_task and
run_script wait up to wait_seconds for the result; a run still going is returned with its id and
status: follow it with get_run. A paused run waits for a person: list_questions shows what it asks
and answer_question answers it. test_task runs a task's data samples with canned tool results.
What you may do is what your API key's roles allow; a refusal names the role that would be needed."""

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
RUNS = ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=True)

def _one_segment(value: str) -> str:
    """An id goes into the URL path: "." and ".." would name another route once normalised."""
    if value.strip() in ("", ".", ".."):
        raise ValueError(f"must be an id or name, not {value!r}")
    return value


TaskRef = Annotated[str, Field(min_length=1, description="The task's id or cy_name"), AfterValidator(_one_segment)]
RunId = Annotated[str, Field(min_length=1, description="The run's id"), AfterValidator(_one_segment)]
Limit = Annotated[int, Field(ge=1, le=200, description="At most this many items")]
Cursor = Annotated[str | None, Field(description="`next_cursor` of the previous page")]
Script = Annotated[str, Field(min_length=1, description="The Cy source")]
JsonObject = dict[str, Any]
WaitSeconds = Annotated[
    float,
    Field(ge=0, le=MAX_WAIT_SECONDS, description="Wait up to this many seconds for the run to end"),
]
TaskStatus = Literal["enabled", "disabled", "archived"]
RunStatus = Literal["pending", "running", "paused", "completed", "failed", "cancelled", "timed_out"]

TASK_SUMMARY = ("id", "cy_name", "name", "version", "status", "description", "updated_at")
RUN_FIELDS = (
    "id", "status", "task_id", "task_version", "trigger", "input", "output", "error", "waiting_reason",
    "payloads_visible", "created_at", "started_at", "completed_at", "duration_ms", "created_by",
)


STRICT_ARGUMENTS = ConfigDict(extra="forbid", strict=True, arbitrary_types_allowed=True)


class _VerbatimArguments(FuncMetadata):
    """Arguments as sent: the SDK would parse a string holding JSON text into a list or object
    (so an input "[1]" or a description '{"a": 1}' would change type)."""

    def pre_parse_json(self, data: dict[str, Any]) -> dict[str, Any]:
        return dict(data)


def _strict(tool: Tool) -> Tool:
    """The tool refusing arguments it does not take (naming them) and values of another type
    (no "5" for 5), as its published schema says (``additionalProperties: false``)."""
    loose = tool.fn_metadata
    strict = type(loose.arg_model.__name__, (loose.arg_model,), {"model_config": STRICT_ARGUMENTS})
    metadata = _VerbatimArguments(
        arg_model=strict,
        output_schema=loose.output_schema,
        output_model=loose.output_model,
        wrap_output=loose.wrap_output,
    )
    return tool.model_copy(update={"fn_metadata": metadata, "parameters": strict.model_json_schema(by_alias=True)})


def _segment(value: str, argument: str) -> str:
    """``value`` as one path segment (the argument models refuse dot segments; this is the last guard)."""
    try:
        return quote(_one_segment(value), safe="")
    except ValueError as error:
        raise ToolError(f"{argument} {error}") from None


def _summary(item: JsonObject, fields: tuple[str, ...]) -> JsonObject:
    return {field: item.get(field) for field in fields if field in item}


def _given(**fields: Any) -> JsonObject:
    return {name: value for name, value in fields.items() if value is not None}


async def _settled(api: ApiGateway, run: JsonObject, wait_seconds: float) -> JsonObject:
    """The run once it has ended or paused, or as it is after ``wait_seconds``."""
    deadline = time.monotonic() + wait_seconds
    while run.get("status") not in SETTLED:
        started = time.monotonic()
        step = min(deadline - started, POLL_SECONDS)
        if step <= 0:
            break
        run = await api.call("GET", f"/v1/task-runs/{_segment(str(run['id']), 'id')}", params={"wait": step})
        if run.get("status") not in SETTLED:
            # A run not yet handed to its workflow answers the long poll at once.
            await anyio.sleep(max(0.0, step - (time.monotonic() - started)))
    return run


async def _run_result(api: ApiGateway, run: JsonObject) -> JsonObject:
    """A run as a tool answers it: its fields, and the open question of a paused run."""
    result = _summary(run, RUN_FIELDS)
    if run.get("status") == "paused":
        asked = await api.call("GET", f"/v1/task-runs/{_segment(str(run['id']), 'id')}/questions")
        result["pending_questions"] = [q for q in asked.get("items", []) if q.get("status") == "pending"]
    return result


def _leaving_logging_alone(make: Callable[[], MCPServer]) -> MCPServer:
    """``MCPServer()`` configures the root logger (``logging.basicConfig``); the process hosting it
    configures its own logging, so that is undone."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        return make()
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def build_server(gateway: GatewayProvider) -> MCPServer:
    """The cytasks MCP server; ``gateway`` decides how its tools reach the API."""
    tools: list[Tool] = []

    def tool(annotations: ToolAnnotations) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            tools.append(_strict(Tool.from_function(fn, annotations=annotations)))
            return fn

        return register

    @tool(READ_ONLY)
    async def list_tasks(
        ctx: Context,
        name: Annotated[str | None, Field(description="Case-insensitive substring of the task name")] = None,
        status: Annotated[TaskStatus | None, Field(description="Archived tasks are listed only when asked for")] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> JsonObject:
        """List saved tasks, newest first: id, cy_name, name, version, status and description of each."""
        async with gateway(ctx) as api:
            page = await api.call("GET", "/v1/tasks", params=_given(name=name, status=status, limit=limit, cursor=cursor))
        return {"items": [_summary(item, TASK_SUMMARY) for item in page["items"]], "next_cursor": page.get("next_cursor")}

    @tool(READ_ONLY)
    async def get_task(ctx: Context, task: TaskRef) -> JsonObject:
        """Get one task with its script, schemas, data samples and settings."""
        async with gateway(ctx) as api:
            return await api.call("GET", f"/v1/tasks/{_segment(task, 'task')}")

    @tool(WRITES)
    async def create_task(
        ctx: Context,
        name: Annotated[str, Field(min_length=1, max_length=255, description="The task's name")],
        script: Script,
        cy_name: Annotated[
            str | None, Field(description="The name scripts and the API call it by (default: made from the name)")
        ] = None,
        description: str | None = None,
        input_schema: Annotated[JsonObject | None, Field(description="JSON Schema the run input must match")] = None,
        output_schema: Annotated[JsonObject | None, Field(description="JSON Schema the output must match")] = None,
        data_samples: Annotated[
            list[JsonObject] | None,
            Field(description="Example inputs: {name, input, expected_output, tool_results} (see test_task)"),
        ] = None,
        timeout_seconds: Annotated[int | None, Field(gt=0, description="A run fails timed_out after this long")] = None,
    ) -> JsonObject:
        """Save a new task (version 1). The script must compile: errors come back with line and column."""
        body = _given(
            name=name, script=script, cy_name=cy_name, description=description, input_schema=input_schema,
            output_schema=output_schema, data_samples=data_samples, timeout_seconds=timeout_seconds,
        )
        async with gateway(ctx) as api:
            return await api.call("POST", "/v1/tasks", json=body)

    @tool(WRITES)
    async def update_task(
        ctx: Context,
        task: TaskRef,
        name: Annotated[str | None, Field(min_length=1, max_length=255)] = None,
        script: Annotated[str | None, Field(min_length=1, description="The new Cy source")] = None,
        description: str | None = None,
        status: TaskStatus | None = None,
        input_schema: JsonObject | None = None,
        output_schema: JsonObject | None = None,
        data_samples: list[JsonObject] | None = None,
        timeout_seconds: Annotated[int | None, Field(gt=0)] = None,
    ) -> JsonObject:
        """Change a task; only the fields given change. A new script or schema makes a new version."""
        changes = _given(
            name=name, script=script, description=description, status=status, input_schema=input_schema,
            output_schema=output_schema, data_samples=data_samples, timeout_seconds=timeout_seconds,
        )
        async with gateway(ctx) as api:
            return await api.call("PATCH", f"/v1/tasks/{_segment(task, 'task')}", json=changes)

    @tool(READ_ONLY)
    async def check_script(ctx: Context, script: Script) -> JsonObject:
        """Compile a Cy script without running it: `valid`, and every error's type, message, line and column."""
        async with gateway(ctx) as api:
            return await api.call("POST", "/v1/scripts/check", json={"script": script})

    @tool(RUNS)
    async def run_task(
        ctx: Context,
        task: TaskRef,
        input: Annotated[Any, Field(description="The run input (any JSON value)")] = None,
        version: Annotated[int | None, Field(ge=1, description="Run this version (default: the current one)")] = None,
        wait_seconds: WaitSeconds = DEFAULT_WAIT_SECONDS,
    ) -> JsonObject:
        """Run a saved task and wait (up to wait_seconds) until it ends or pauses for a question: status,
        output and error, the pending question of a paused run; a run still going returns its id and status."""
        async with gateway(ctx) as api:
            run = await api.call(
                "POST",
                f"/v1/tasks/{_segment(task, 'task')}/execute",
                json={"input": input, **_given(version=version)},
            )
            return await _run_result(api, await _settled(api, run, wait_seconds))

    @tool(RUNS)
    async def run_script(
        ctx: Context,
        script: Script,
        input: Annotated[Any, Field(description="The run input (any JSON value)")] = None,
        timeout_seconds: Annotated[int | None, Field(gt=0, description="The run fails timed_out after this long")] = None,
        wait_seconds: WaitSeconds = DEFAULT_WAIT_SECONDS,
    ) -> JsonObject:
        """Run a Cy script ad hoc (nothing saved) and wait for it, like run_task."""
        async with gateway(ctx) as api:
            run = await api.call(
                "POST",
                "/v1/tasks/execute",
                json={"script": script, "input": input, **_given(timeout_seconds=timeout_seconds)},
            )
            return await _run_result(api, await _settled(api, run, wait_seconds))

    @tool(READ_ONLY)
    async def list_runs(
        ctx: Context,
        task: Annotated[str | None, Field(description="Only this task's runs (id or cy_name)")] = None,
        status: RunStatus | None = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> JsonObject:
        """List runs, newest first, with their status, output and error."""
        async with gateway(ctx) as api:
            page = await api.call(
                "GET", "/v1/task-runs", params=_given(task=task, status=status, limit=limit, cursor=cursor)
            )
        return {"items": [_summary(item, RUN_FIELDS) for item in page["items"]], "next_cursor": page.get("next_cursor")}

    @tool(READ_ONLY)
    async def get_run(ctx: Context, run_id: RunId, wait_seconds: WaitSeconds = 0) -> JsonObject:
        """Get a run with its log lines, and the question it waits on when paused; with wait_seconds, once it
        ends or pauses (or that long has passed)."""
        async with gateway(ctx) as api:
            run = await api.call("GET", f"/v1/task-runs/{_segment(run_id, 'run_id')}")
            run = await _settled(api, run, wait_seconds)
            result = await _run_result(api, run)
            if run.get("payloads_visible", True):
                logs = await api.call("GET", f"/v1/task-runs/{_segment(run_id, 'run_id')}/logs")
                result["logs"] = [line["message"] for line in logs["items"]]
            else:
                result["logs"] = None
        return result

    @tool(READ_ONLY)
    async def list_questions(
        ctx: Context,
        task: Annotated[str | None, Field(description="Only this task's questions (id or cy_name)")] = None,
        run_id: Annotated[str | None, Field(description="Only this run's questions")] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> JsonObject:
        """List the pending questions paused runs ask: the text, the allowed responses or form, the run."""
        async with gateway(ctx) as api:
            return await api.call(
                "GET",
                "/v1/questions",
                params=_given(status="pending", task=task, run=run_id, limit=limit, cursor=cursor),
            )

    @tool(WRITES)
    async def answer_question(
        ctx: Context,
        run_id: Annotated[RunId, Field(description="The paused run")],
        answer: Annotated[Any, Field(description="One of the question's responses, or a value matching its form")],
        question_id: Annotated[str | None, Field(description="The question (default: the run's open one)")] = None,
    ) -> JsonObject:
        """Answer the question a paused run waits on; the run then continues."""
        async with gateway(ctx) as api:
            return await api.call(
                "POST",
                f"/v1/task-runs/{_segment(run_id, 'run_id')}/respond",
                json={"answer": answer, **_given(question_id=question_id)},
            )

    @tool(WRITES)  # runs scripts (with canned tool results) and needs tasks:test
    async def test_task(
        ctx: Context,
        task: TaskRef,
        version: Annotated[int | None, Field(ge=1, description="Test this version (default: the current one)")] = None,
        script: Annotated[str | None, Field(min_length=1, description="Test this unsaved script instead")] = None,
        samples: Annotated[
            list[JsonObject] | None,
            Field(description="Test these samples (default: the task's data_samples)"),
        ] = None,
    ) -> JsonObject:
        """Run a task's data samples with their canned tool results (nothing runs for real) and report each."""
        async with gateway(ctx) as api:
            return await api.call(
                "POST",
                f"/v1/tasks/{_segment(task, 'task')}/test",
                json=_given(version=version, script=script, samples=samples),
            )

    return _leaving_logging_alone(
        lambda: MCPServer("cytasks", instructions=INSTRUCTIONS, version="0.1.0", tools=tools)
    )
