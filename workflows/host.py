"""The Cy host used inside ``TaskRunWorkflow``.

Pure built-ins never reach the host (the interpreter runs them inline). ``now()`` and
randomness come from the workflow, ``sleep`` is a durable timer, and every other tool
call is an activity named by the tool's fully qualified name.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy as TemporalRetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import CancelledError as TemporalCancelledError
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

from activities.runs import RunActivities
from cy import CyOptions, Program, compile_script
from cy.errors import ERROR_CLASSES, CyError, ToolInvocationError
from cy.host import LOG_TRUNCATED, ToolCall
from cy.tools import LOCAL_CALL_MAX_SECONDS, RetryPolicy, ToolRegistry, ToolSpec
from cy.values import exported, printable
from integrations.builtin import CHILD_TASK, DURABLE_TIMER, MAX_TASK_DEPTH, check_sleep_seconds
from integrations.registry import get_registry

from taskrun.contract import (
    CY_ERROR_PREFIX,
    ChildTaskRequest,
    RunLogLines,
    RunStarted,
    TaskRunRequest,
    ToolInvocation,
    ToolResult,
)
from workflows import versions
from workflows.children import ChildFailed, run_child

BOOKKEEPING_TIMEOUT = timedelta(seconds=30)
DEFAULT_TOOL_TIMEOUT_SECONDS = 60
DEFAULT_TOOL_RETRY = RetryPolicy(maximum_attempts=3, non_retryable_error_types=("ValueError",))
MAX_LOGS = 1000
LIVE_LOG_EVERY_SECONDS = 1.0
"""During a long computation, lines are handed over at most this often."""
MAX_LOG_LINE_CHARS = 16_384
MAX_LOG_CHARS = 1_000_000
MAX_EXPORT_CHARS = 16_000_000
"""Largest output or set of tool arguments a run may hand out, as JSON characters."""


# Pure computation between two awaits runs inside one workflow activation, which Temporal
# fails after 2 seconds (deadlock detection). Loops and native calls yield to the host
# every so many operations (see ``WorkflowHost.checkpoint``), no single native call may
# cost more than WORKFLOW_MAX_CALL_OPERATIONS (about a few hundred milliseconds of work),
# and no script may be longer than what compiles well within one activation.
# The operation budget bounds a run's CPU time on the worker to a couple of seconds.
WORKFLOW_MAX_VALUE_SIZE = 1_000_000
WORKFLOW_MAX_OPERATIONS = 2_000_000
WORKFLOW_MAX_CALL_OPERATIONS = 300_000
WORKFLOW_MAX_SCRIPT_BYTES = 65_536
COMPILE_ALONE_BYTES = 16_384
"""Scripts longer than this compile in an activation of their own."""


@lru_cache(maxsize=512)
def compiled_program(script: str, max_iterations: int | None) -> Program:
    """Compile once per worker process; replays and later runs of a task reuse it."""
    limits = {
        "max_value_size": WORKFLOW_MAX_VALUE_SIZE,
        "max_operations": WORKFLOW_MAX_OPERATIONS,
        "max_call_operations": WORKFLOW_MAX_CALL_OPERATIONS,
    }
    if max_iterations is not None:
        limits["max_iterations"] = max_iterations
    return compile_script(script, get_registry(), CyOptions(**limits))


def temporal_retry(policy: RetryPolicy | None) -> TemporalRetryPolicy:
    policy = policy or DEFAULT_TOOL_RETRY
    return TemporalRetryPolicy(
        maximum_attempts=policy.maximum_attempts,
        initial_interval=timedelta(seconds=policy.initial_interval_seconds),
        backoff_coefficient=policy.backoff_coefficient,
        maximum_interval=timedelta(seconds=policy.maximum_interval_seconds),
        non_retryable_error_types=list(policy.non_retryable_error_types),
    )


LOCAL_CALL_GRACE_SECONDS = 2


def local_call_timeout(spec: ToolSpec, args: list[Any], kwargs: dict[str, Any]) -> float | None:
    """The start-to-close timeout of a call that runs as a local activity, or None for a call
    that runs as a regular one: the tool is declared local, or the call bounds its own
    duration (the tool's ``timeout_param``) to at most ``LOCAL_CALL_MAX_SECONDS``."""
    if spec.local:
        return spec.timeout_seconds or DEFAULT_TOOL_TIMEOUT_SECONDS
    if spec.timeout_param is None or spec.params is None:
        return None
    bound = kwargs.get(spec.timeout_param)
    if bound is None:
        positional = [p for p in spec.params if not p.keyword_only]
        names = [p.name for p in positional]
        if spec.timeout_param in names and names.index(spec.timeout_param) < len(args):
            bound = args[names.index(spec.timeout_param)]
        else:
            bound = next((p.default for p in spec.params if p.name == spec.timeout_param), None)
    if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not 0 < bound <= LOCAL_CALL_MAX_SECONDS:
        return None
    return float(bound) + LOCAL_CALL_GRACE_SECONDS


async def record_run_start(started: RunStarted) -> None:
    """Record the run as running, in a local activity."""
    await workflow.execute_local_activity_method(
        RunActivities.mark_run_running, started, start_to_close_timeout=BOOKKEEPING_TIMEOUT
    )


def tool_error(call: ToolCall, error: ActivityError) -> CyError:
    """Turn a failed tool activity into the Cy error the script sees."""
    cause = error.cause
    fqn = call.tool.fqn
    if isinstance(cause, ApplicationError):
        kind = cause.type or ""
        if kind.startswith(CY_ERROR_PREFIX):
            error_class = ERROR_CLASSES.get(kind[len(CY_ERROR_PREFIX) :], ToolInvocationError)
            return error_class(cause.message, call.line, call.column)
        if cause.type == "ValueError":
            return ToolInvocationError(cause.message, call.line, call.column)
        return ToolInvocationError(f"Tool '{fqn}' failed: {cause.message}", call.line, call.column)
    if isinstance(cause, TemporalTimeoutError):
        limit = call.tool.timeout_seconds or DEFAULT_TOOL_TIMEOUT_SECONDS
        return ToolInvocationError(
            f"Tool '{fqn}' failed: no answer within {limit:g} seconds", call.line, call.column
        )
    return ToolInvocationError(f"Tool '{fqn}' failed: {error}", call.line, call.column)


class WorkflowHost:
    def __init__(self, request: TaskRunRequest, registry: ToolRegistry | None = None) -> None:
        self.request = request
        self.registry = registry or get_registry()
        self.logs: list[str] = []
        self.llm_usage: dict[str, int] | None = None
        self._truncated = False
        self._log_chars = 0
        self.live_logs = False
        """Hand log lines over while the run goes (set by the workflow, behind a patch marker)."""
        self._handed_over = 0
        self._handing_over: asyncio.Task | None = None
        self._handed_at: datetime | None = None
        self.human: Any = None
        """The run's ``hitl.workflow.HumanQuestions``, which pauses on hi-latency calls."""
        self.start: RunStarted | None = None
        """The run's start, still to be recorded: set by the workflow when that waits for the
        script's first wait (a script that never waits has its start recorded with its end)."""
        self._recording_start: asyncio.Task | None = None
        self._start_recorded_by_tool = False

    @property
    def start_recorded(self) -> bool:
        return self.start is None or self._recording_start is not None or self._start_recorded_by_tool

    async def _started(self) -> None:
        """Before the script waits on anything the first time: the run's start is recorded."""
        if self.start is None or self._start_recorded_by_tool:
            return
        if self._recording_start is None:
            self._recording_start = asyncio.create_task(record_run_start(self.start))
        await self._recording_start

    def _row_recorded(self) -> bool:
        """Whether the run's row exists: a workflow node's run gets it with its start."""
        return self.start is None or self.start.node_run is None or self.start_recorded

    def _start_for_tool(self) -> RunStarted | None:
        """The start a tool activity is to record while its tool runs, instead of a local
        activity before it: while nothing has recorded the start yet."""
        if self.start_recorded:
            return None
        return self.start if versions.patched("start-recorded-beside-tools") else None

    def now(self) -> datetime:
        return workflow.now()

    def random(self) -> float:
        return workflow.random().random()

    def log(self, message: str) -> None:
        """Keep a line for the run's log: printable (no NUL, no lone surrogate), each line and
        the whole log bounded; past the bounds, one truncation marker."""
        if self._truncated:
            return
        line = printable(message, MAX_LOG_LINE_CHARS)
        if len(self.logs) < MAX_LOGS and self._log_chars + len(line) <= MAX_LOG_CHARS:
            self.logs.append(line)
            self._log_chars += len(line)
        else:
            self._truncated = True
            self.logs.append(LOG_TRUNCATED)

    async def checkpoint(self) -> None:
        """End the current activation (the interpreter calls this after a fixed amount of
        work, so it is deterministic). A no-op local activity does it without a server
        round trip; it leaves one marker event in history."""
        await self._started()
        now = workflow.now()
        if self._handed_at is None or (now - self._handed_at).total_seconds() >= LIVE_LOG_EVERY_SECONDS:
            self.hand_over_logs()
        await workflow.execute_local_activity_method(
            RunActivities.checkpoint, start_to_close_timeout=timedelta(seconds=30)
        )

    def hand_over_logs(self) -> None:
        """Store the lines logged since the last hand-over, beside whatever the run waits on
        next (it adds no wait of its own). Hand-overs run one after another, in order."""
        if not self.live_logs or self._handed_over >= len(self.logs) or not self._row_recorded():
            return
        lines = self.logs[self._handed_over :]
        self._handed_over = len(self.logs)
        self._handed_at = workflow.now()
        previous = self._handing_over

        async def hand_over() -> None:
            if previous is not None:
                await previous
            await workflow.execute_local_activity_method(
                RunActivities.append_run_logs,
                RunLogLines(self.request.run_id, lines),
                start_to_close_timeout=timedelta(seconds=30),
            )

        self._handing_over = asyncio.create_task(hand_over())

    async def logs_handed_over(self) -> list[str]:
        """Wait for hand-overs in flight; the lines still to be stored with the run's end."""
        if self._handing_over is not None:
            await self._handing_over
        return self.logs[self._handed_over :] if self.live_logs else self.logs

    def call_tool(self, call: ToolCall) -> Any:
        return self._call(call)

    async def _call(self, call: ToolCall) -> Any:
        spec = call.tool
        timer = bool(spec.metadata.get(DURABLE_TIMER))
        local_timeout = None if timer else local_call_timeout(spec, list(call.args), dict(call.kwargs))
        as_activity = not (timer or spec.hi_latency or spec.metadata.get(CHILD_TASK) or local_timeout is not None)
        start = self._start_for_tool() if as_activity else None
        if start is None:
            await self._started()
        self.hand_over_logs()
        if timer:
            seconds = call.args[0] if call.args else call.kwargs.get("seconds")
            try:
                seconds = check_sleep_seconds(seconds)
            except ValueError as error:
                raise ToolInvocationError(str(error), call.line, call.column) from None
            await workflow.sleep(seconds)
            return None
        what = f"the arguments of '{call.written_name}'"
        try:
            args = exported(list(call.args), what, MAX_EXPORT_CHARS)
            kwargs = exported(dict(call.kwargs), what, MAX_EXPORT_CHARS)
        except CyError as error:
            error.line, error.column = call.line, call.column
            raise
        if spec.hi_latency:
            return await self.ask_human(call)
        if spec.metadata.get(CHILD_TASK):
            return await self.run_task(call, args, kwargs)
        invocation = ToolInvocation(
            args=args,
            kwargs=kwargs,
            run_id=self.request.run_id,
            task_id=self.request.task_id,
            directive=self.request.directive,
            llm_config=self.request.llm_config,
            start=start,
        )
        try:
            if local_timeout is not None and versions.patched("local-tools"):
                result = await workflow.execute_local_activity(
                    spec.fqn,
                    invocation,
                    result_type=ToolResult,
                    start_to_close_timeout=timedelta(seconds=local_timeout),
                    retry_policy=temporal_retry(spec.retry),
                    summary=spec.fqn,
                )
            else:
                result = await workflow.execute_activity(
                    spec.fqn,
                    invocation,
                    result_type=ToolResult,
                    start_to_close_timeout=timedelta(seconds=spec.timeout_seconds or DEFAULT_TOOL_TIMEOUT_SECONDS),
                    heartbeat_timeout=timedelta(seconds=20),
                    retry_policy=temporal_retry(spec.retry),
                    summary=spec.fqn,
                )
        except ActivityError as error:
            if isinstance(error.cause, TemporalCancelledError):
                raise asyncio.CancelledError() from None
            raise tool_error(call, error) from None
        if start is not None and result.start_recorded:
            self._start_recorded_by_tool = True
        if result.llm_usage:
            self._add_usage(result.llm_usage)
        return result.value

    async def run_task(self, call: ToolCall, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """``app::tasks::run(task, input)``: the saved task's current version as a child run;
        answers its output, raises its error at the call."""
        task = args[0] if args else kwargs.get("task")
        value = args[1] if len(args) > 1 else kwargs.get("input")
        if self.request.depth >= MAX_TASK_DEPTH:
            raise ToolInvocationError(
                f"'{call.written_name}' may nest at most {MAX_TASK_DEPTH} runs deep (this run is {self.request.depth} deep)",
                call.line,
                call.column,
            )
        try:
            child = await workflow.execute_local_activity_method(
                RunActivities.prepare_child_task,
                ChildTaskRequest(self.request.run_id, task, value, self.request.depth + 1, self.request.event_depth),
                start_to_close_timeout=timedelta(seconds=30),
            )
            result = await run_child(
                child, summary=f"{child.task_name} v{child.task_version} for {self.request.run_id}", track_status=False
            )
            if result.output_omitted is None:
                return result.output
            return await workflow.execute_local_activity_method(
                RunActivities.run_output, child.run_id, start_to_close_timeout=timedelta(seconds=30)
            )
        except ActivityError as error:
            raise tool_error(call, error) from None
        except ChildFailed as failure:
            error = failure.error
            raise ToolInvocationError(
                f"Task '{task}' (run {error.get('task_run_id')}) failed: {error.get('type')}: {error.get('message')}",
                call.line,
                call.column,
            ) from None

    async def ask_human(self, call: ToolCall) -> Any:
        if self.human is not None:
            return await self.human.ask(self.request, call)
        raise ToolInvocationError(
            f"Tool '{call.tool.fqn}' needs a human answer, which this run cannot ask for",
            call.line,
            call.column,
        )

    def _add_usage(self, usage: dict[str, int]) -> None:
        total = dict(self.llm_usage or {})
        for key, value in usage.items():
            total[key] = total.get(key, 0) + int(value)
        self.llm_usage = total
