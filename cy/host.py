"""The host interface: everything non-deterministic a script needs goes through it.

The interpreter never reads the clock, randomness or environment and never performs a
side effect itself. ``now()``, ``random()``, ``log()``, every non-pure tool call and
every hi-latency call are asked of the ``Host`` passed to the run. Running the same
script with the same input and the same host answers always gives the same result.

``call_tool`` may return a plain value (synchronous runs) or an awaitable (async runs,
e.g. a Temporal workflow that executes the call as an activity).
"""

from __future__ import annotations

import asyncio
import inspect
import random as _random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Protocol

from .tools import ToolSpec

LOG_TRUNCATED = "[LOG TRUNCATED — max entries reached]"


@dataclass(frozen=True)
class ToolCall:
    """One tool invocation as the script made it (arguments already evaluated)."""

    tool: ToolSpec
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    written_name: str
    line: int
    column: int

    def named_args(self) -> dict[str, Any]:
        """Arguments named as pauses report them: ``arg_0``, ``arg_1``... then named ones."""
        named = {f"arg_{i}": value for i, value in enumerate(self.args)}
        named.update(self.kwargs)
        return named


class Host(Protocol):
    def now(self) -> datetime: ...

    def random(self) -> float: ...

    def log(self, message: str) -> None: ...

    def call_tool(self, call: ToolCall) -> Any: ...


def invoke(call: ToolCall, host: "Host | None" = None) -> Any:
    """Call the tool's Python function (may return an awaitable for async tools)."""
    if call.tool.uses_host:
        return call.tool.fn(host, *call.args, **call.kwargs)
    return call.tool.fn(*call.args, **call.kwargs)


def run_awaitable(value: Any) -> Any:
    """Resolve an awaitable from synchronous code (no event loop may be running)."""
    if inspect.isawaitable(value):
        return asyncio.run(_await(value))
    return value


async def _await(value: Any) -> Any:
    return await value


@dataclass
class LocalHost:
    """Runs everything in-process: the real clock, seeded randomness, tools called directly.

    ``answer_human`` answers hi-latency calls; without it such a call fails.
    """

    clock: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))
    seed: int | None = None
    max_logs: int = 1000
    answer_human: Callable[[ToolCall], Any] | None = None
    logs: list[str] = field(default_factory=list)
    _truncated: bool = False

    def __post_init__(self) -> None:
        self._rng = _random.Random(self.seed)

    def now(self) -> datetime:
        return self.clock()

    def random(self) -> float:
        return self._rng.random()

    def log(self, message: str) -> None:
        if len(self.logs) < self.max_logs:
            self.logs.append(message)
        elif not self._truncated:
            self._truncated = True
            self.logs.append(LOG_TRUNCATED)

    def call_tool(self, call: ToolCall) -> Any:
        if call.tool.hi_latency:
            if self.answer_human is None:
                raise RuntimeError(
                    f"'{call.written_name}' needs a human answer and this host has no one to ask"
                )
            return self.answer_human(call)
        return invoke(call, self)


class AsyncLocalHost(LocalHost):
    """``LocalHost`` for async runs: async tools are awaited by the interpreter."""

    def call_tool(self, call: ToolCall) -> Any:
        if call.tool.hi_latency and self.answer_human is not None:
            return self.answer_human(call)
        return super().call_tool(call)
