"""One dynamic activity runs every side-effecting tool; its type name is the tool's FQN.

While a tool runs, the activity heartbeats in the background, so a call whose worker died is
retried within the heartbeat timeout. Synchronous tool functions run in a thread, so a slow
one never blocks the worker's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

from activities import metrics
from cy.errors import CyError
from cy.tools import ToolRegistry
from integrations.context import ToolContext, ToolOutput
from integrations.credentials import CredentialStore
from taskrun.contract import CY_ERROR_PREFIX, RunStarted, ToolInvocation, ToolResult


TOOL_THREADS = 64
DEFAULT_HEARTBEAT_EVERY = timedelta(seconds=5)


class ToolActivities:
    def __init__(
        self,
        registry: ToolRegistry,
        credentials: CredentialStore | None = None,
        executor: ThreadPoolExecutor | None = None,
        record_start: Callable[[RunStarted], Awaitable[bool]] | None = None,
    ) -> None:
        self.registry = registry
        self.credentials = credentials or CredentialStore()
        self.executor = executor or ThreadPoolExecutor(max_workers=TOOL_THREADS, thread_name_prefix="tool")
        self.record_start = record_start
        """Records a run's start (True once it is in the database); without it, starts handed
        to a tool are left to the workflow."""

    @activity.defn(dynamic=True)
    async def run_tool(self, args: Sequence[RawValue]) -> ToolResult:
        fqn = activity.info().activity_type
        spec = self.registry.get(fqn)
        if spec is None:
            raise ApplicationError(
                f"No tool '{fqn}' is registered on this worker", type="ToolNotFoundError", non_retryable=True
            )
        invocation = activity.payload_converter().from_payload(args[0].payload, ToolInvocation)
        context = ToolContext(
            run_id=invocation.run_id,
            task_id=invocation.task_id,
            directive=invocation.directive,
            llm_config=invocation.llm_config or {},
            credentials=self.credentials,
        )
        call_args = [context, *invocation.args] if spec.uses_host else list(invocation.args)
        recording = None
        if invocation.start is not None and self.record_start is not None:
            recording = asyncio.create_task(self.record_start(invocation.start))
        with metrics.tool_call(fqn):
            return await self._run(spec, fqn, context, call_args, invocation.kwargs, recording)

    async def _run(
        self,
        spec: Any,
        fqn: str,
        context: ToolContext,
        call_args: list[Any],
        kwargs: dict[str, Any],
        recording: asyncio.Task | None,
    ) -> ToolResult:
        async def call_then_settle() -> tuple[Any, bool]:
            # The recording never outlives the activity (the workflow records the run's end
            # after it), and the activity heartbeats until both are done.
            try:
                value = await self._call(spec.fn, call_args, kwargs)
            finally:
                recorded = await _settled(recording)
            return value, recorded

        try:
            value, recorded = await with_heartbeats(call_then_settle)
        except CyError as error:
            raise ApplicationError(
                context.redact(error.message), type=CY_ERROR_PREFIX + error.type, non_retryable=True
            ) from None
        except ValueError as error:
            raise ApplicationError(context.redact(str(error)), type="ValueError", non_retryable=True) from None
        except Exception as error:
            message = context.redact(str(error) or type(error).__name__)
            raise ApplicationError(message, type=type(error).__name__) from None
        for message in context.logs:
            activity.logger.info("%s: %s", fqn, context.redact(message))
        # Whatever secret the tool used is kept out of its result (and so out of history).
        if isinstance(value, ToolOutput):
            return ToolResult(value=context.redact(_plain(value.value)), llm_usage=value.llm_usage, start_recorded=recorded)
        return ToolResult(value=context.redact(_plain(value)), start_recorded=recorded)


    async def _call(self, fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]) -> Any:
        if inspect.iscoroutinefunction(fn):
            return await fn(*args, **kwargs)
        loop = asyncio.get_running_loop()
        in_context = contextvars.copy_context().run  # activity.info() keeps working in the thread
        value = await loop.run_in_executor(self.executor, functools.partial(in_context, fn, *args, **kwargs))
        if inspect.isawaitable(value):
            value = await value
        return value


async def _settled(recording: asyncio.Task | None) -> bool:
    """Whether the start recorded beside the call is in the database. A cancelled activity
    still lets the recording's transaction finish before it reports."""
    if recording is None:
        return False
    try:
        return await asyncio.shield(recording)
    except asyncio.CancelledError:
        await asyncio.wait([recording])
        raise


async def with_heartbeats(call: Callable[[], Awaitable[Any]]) -> Any:
    """Await ``call()`` while heartbeating a few times per heartbeat timeout (a local activity
    has no heartbeat: it holds its workflow task, which the worker keeps alive)."""
    if activity.info().is_local:
        return await call()
    timeout = activity.info().heartbeat_timeout
    every = (timeout / 4 if timeout else DEFAULT_HEARTBEAT_EVERY).total_seconds()

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(every)

    beating = asyncio.create_task(beat())
    try:
        return await call()
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating


def _plain(value: Any) -> Any:
    """Tool results cross the wire as JSON: tuples become lists."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value
