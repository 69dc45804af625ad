"""The Cy host of a test: every tool call that would leave the interpreter is answered from
canned results, so no real tool ever runs.

Natives never reach the host (the interpreter runs them inline). ``sleep`` checks its
argument like a run does and returns at once. Every other call, hi-latency ones
(``app::human::ask``) included, takes its answer from the sample's ``tool_results`` or, in a
replay, from the recorded run. A call with no answer raises ``MissingToolResult``, which is
not an ``Exception``: a script's ``try``/``catch`` cannot swallow it, and the sample fails
naming the tool and the line.

Arguments must be plain JSON data, checked as a run's workflow checks them, with the same
limits (``workflows.host``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from cy.errors import CyError, ToolInvocationError
from cy.host import LOG_TRUNCATED, ToolCall
from cy.values import exported, printable
from integrations.builtin import DURABLE_TIMER, check_sleep_seconds
from workflows.host import MAX_EXPORT_CHARS, MAX_LOG_LINE_CHARS, MAX_LOGS

from .diff import json_diff
from .samples import CannedAnswer, CannedAnswers, named_arguments

MAX_TOOL_CALLS = 1000
"""A report lists at most this many tool calls of one sample."""


class MissingToolResult(BaseException):
    """A call the canned results (or the recorded run) have no answer for. Deliberately not an
    ``Exception``: it ends the script even inside ``try``."""

    def __init__(self, message: str, fqn: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.fqn = fqn
        self.line = line
        self.column = column

    def to_dict(self) -> dict[str, Any]:
        return {"type": "MissingToolResult", "message": self.message, "line": self.line, "column": self.column, "tool": self.fqn}


def matches(when: dict[str, Any] | None, arguments: dict[str, Any]) -> bool:
    if not when:
        return True
    return all(key in arguments and not json_diff(value, arguments[key], limit=1) for key, value in when.items())


@dataclass(frozen=True)
class Where:
    """How the host names where its answers come from, in its messages."""

    source: str = "the sample's tool_results"
    hint: str = "add it to the sample's tool_results"


SAMPLE = Where()
REPLAY = Where(source="the recorded run", hint="that run made no call of this tool, so its result is unknown")


@dataclass
class CannedHost:
    answers: dict[str, CannedAnswers]
    where: Where = SAMPLE
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))
    seed: int = 0
    logs: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    _used: dict[str, set[int]] = field(default_factory=dict)
    _truncated: bool = False

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def now(self) -> datetime:
        return self.clock()

    def random(self) -> float:
        return self._rng.random()

    def log(self, message: str) -> None:
        if self._truncated:
            return
        if len(self.logs) < MAX_LOGS:
            self.logs.append(printable(message, MAX_LOG_LINE_CHARS))
        else:
            self._truncated = True
            self.logs.append(LOG_TRUNCATED)

    def call_tool(self, call: ToolCall) -> Any:
        spec = call.tool
        what = f"the arguments of '{call.written_name}'"
        try:
            args = exported(list(call.args), what, MAX_EXPORT_CHARS)
            kwargs = exported(dict(call.kwargs), what, MAX_EXPORT_CHARS)
        except CyError as error:
            error.line, error.column = call.line, call.column
            raise
        arguments = named_arguments(spec, args, kwargs)
        if len(self.tool_calls) < MAX_TOOL_CALLS:
            self.tool_calls.append({"tool": spec.fqn, "args": arguments, "line": call.line, "column": call.column})
        if spec.metadata.get(DURABLE_TIMER):
            try:
                check_sleep_seconds(args[0] if args else kwargs.get("seconds"))
            except ValueError as error:
                raise ToolInvocationError(str(error), call.line, call.column) from None
            return None
        answer = self._answer_for(call, arguments)
        if answer.error is not None:
            raise ToolInvocationError(answer.error, call.line, call.column)
        return answer.result

    def _answer_for(self, call: ToolCall, arguments: dict[str, Any]) -> CannedAnswer:
        fqn = call.tool.fqn
        at = f"line {call.line}, column {call.column}"
        canned = self.answers.get(fqn)
        if canned is None:
            raise MissingToolResult(
                f"'{fqn}' was called at {at} and {self.where.source} has no result for it: {self.where.hint}",
                fqn,
                call.line,
                call.column,
            )
        if canned.repeat:
            answer = canned.answers[0]
            if matches(answer.when, arguments):
                return answer
            raise MissingToolResult(
                f"'{fqn}' was called at {at} with arguments {arguments!r}, which its canned result's "
                f"'when' {answer.when!r} does not match",
                fqn,
                call.line,
                call.column,
            )
        used = self._used.setdefault(fqn, set())
        for index, answer in enumerate(canned.answers):
            if index not in used and matches(answer.when, arguments):
                used.add(index)
                return answer
        count = len(canned.answers)
        made = sum(1 for done in self.tool_calls if done["tool"] == fqn)
        if len(used) == count and self.where is REPLAY:
            detail = f"the recorded run made {count} call{'s' if count != 1 else ''} of it; this is call {made}, whose result is unknown"
        elif len(used) == count:
            detail = f"all {count} result{'s' if count != 1 else ''} {self.where.source} has for it are used (this is call {made})"
        else:
            detail = f"none of the {count - len(used)} unused results {self.where.source} has for it matches its arguments {arguments!r}"
        raise MissingToolResult(f"'{fqn}' was called at {at} and {detail}", fqn, call.line, call.column)
