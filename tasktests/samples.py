"""Data samples: an input, optionally an expectation on the output and canned tool results.

A sample is ``{"name"?, "description"?, "input", "expected_output"?, "tool_results"?}``:

* ``expected_output`` is the exact output (compared as JSON), or a JSON Schema the output must
  satisfy when it is an object with a ``"$schema"`` key. ``null`` or absent: no expectation
  (the run must still complete, and match the task's ``output_schema``).
* ``tool_results`` maps a tool's name (fully qualified, ``app::http::request``; a name a
  script may write, ``llm_run``, is accepted and resolved) to its canned answers:

  - one answer object, which answers every call of the tool: ``{"result": VALUE}``, or
    ``{"error": "message"}`` (the call fails with a ``ToolInvocationError`` the script can
    catch);
  - a list of answer objects, each answering one call, in order;
  - either of them with ``"when": {ARG: VALUE, ...}``: the answer is for calls whose
    arguments (named by the tool's parameters, or ``arg_0``, ``arg_1``... by position)
    include those values. In a list, a call takes the first unused answer that matches it.

A call of a tool that has no answer left for it fails the sample, naming the tool and the line.
Pure tools (the Cy natives) always run for real and cannot be canned; ``sleep`` returns at
once. Tools are resolved against the registry the server compiles scripts with, so a name no
script could call is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cy.errors import CyError
from cy.tools import ToolRegistry, ToolSpec
from integrations.builtin import DURABLE_TIMER

from .diff import child_path

ANSWER_KEYS = frozenset({"result", "error", "when"})
SAMPLE_KEYS = frozenset({"name", "description", "input", "expected_output", "tool_results"})


class SampleError(ValueError):
    """A sample that cannot be used: ``path`` locates the fault inside it (``$.tool_results...``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class CannedAnswer:
    result: Any = None
    error: str | None = None
    when: dict[str, Any] | None = None


@dataclass(frozen=True)
class CannedAnswers:
    """The answers of one tool: ``repeat`` when one answer serves every call."""

    fqn: str
    answers: tuple[CannedAnswer, ...]
    repeat: bool = False


@dataclass(frozen=True)
class Sample:
    input: Any = None
    name: str | None = None
    expected_output: Any = None
    tool_results: dict[str, CannedAnswers] = field(default_factory=dict)

    @property
    def has_expectation(self) -> bool:
        return self.expected_output is not None

    @property
    def expects_schema(self) -> bool:
        return isinstance(self.expected_output, dict) and "$schema" in self.expected_output


def parameter_names(spec: ToolSpec) -> list[str] | None:
    """The names a call's positional arguments take, or None when the tool takes any."""
    if spec.params is None:
        return None
    return [param.name for param in spec.params if not param.keyword_only]


def named_arguments(spec: ToolSpec, args: tuple[Any, ...] | list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """A call's arguments by name: positional ones by the tool's parameters (``arg_N`` past them)."""
    names = parameter_names(spec) or []
    named = {names[index] if index < len(names) else f"arg_{index}": value for index, value in enumerate(args)}
    named.update(kwargs)
    return named


def _answer(raw: Any, spec: ToolSpec, path: str) -> CannedAnswer:
    if not isinstance(raw, dict):
        raise SampleError(path, 'an answer is an object: {"result": VALUE} or {"error": "message"}, optionally with "when"')
    unknown = sorted(set(raw) - ANSWER_KEYS)
    if unknown:
        raise SampleError(path, f"unknown key {unknown[0]!r} (an answer has result or error, and optionally when)")
    if ("result" in raw) == ("error" in raw):
        raise SampleError(path, 'an answer has exactly one of "result" and "error"')
    if "error" in raw and not isinstance(raw["error"], str):
        raise SampleError(child_path(path, "error"), "the error is a message (a string)")
    when = raw.get("when")
    if when is not None:
        if not isinstance(when, dict):
            raise SampleError(child_path(path, "when"), "when is an object of argument names and values")
        names = parameter_names(spec)
        if names is not None:
            known = {param.name for param in spec.params or ()}
            for key in when:
                if key not in known:
                    raise SampleError(
                        child_path(child_path(path, "when"), key),
                        f"'{spec.fqn}' has no parameter {key!r} (its parameters: {', '.join(sorted(known)) or 'none'})",
                    )
    return CannedAnswer(result=raw.get("result"), error=raw.get("error"), when=when)


def resolve_tool(name: Any, registry: ToolRegistry, path: str) -> ToolSpec:
    if not isinstance(name, str) or not name:
        raise SampleError(path, "a tool name is a non-empty string")
    try:
        spec = registry.resolve(name)
    except CyError as error:
        raise SampleError(path, f"no tool {name!r} is registered ({error.message})") from None
    if spec.pure and not spec.hi_latency:
        raise SampleError(path, f"'{spec.fqn}' is pure: it always runs for real and cannot be canned")
    if spec.metadata.get(DURABLE_TIMER):
        raise SampleError(path, f"'{spec.fqn}' returns at once in a test: it takes no canned result")
    return spec


def parse_tool_results(raw: Any, registry: ToolRegistry, path: str = "$.tool_results") -> dict[str, CannedAnswers]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SampleError(path, "tool_results is an object keyed by tool name")
    parsed: dict[str, CannedAnswers] = {}
    for name, answers in raw.items():
        where = child_path(path, name)
        spec = resolve_tool(name, registry, where)
        if spec.fqn in parsed:
            raise SampleError(where, f"'{spec.fqn}' is given twice (under two of its names)")
        if isinstance(answers, list):
            items = tuple(_answer(item, spec, child_path(where, index)) for index, item in enumerate(answers))
            parsed[spec.fqn] = CannedAnswers(spec.fqn, items)
        else:
            parsed[spec.fqn] = CannedAnswers(spec.fqn, (_answer(answers, spec, where),), repeat=True)
    return parsed


def parse_sample(raw: Any, registry: ToolRegistry, path: str = "$") -> Sample:
    if not isinstance(raw, dict):
        raise SampleError(path, 'a sample is an object: {"input": ..., "expected_output"?, "tool_results"?}')
    unknown = sorted(set(raw) - SAMPLE_KEYS)
    if unknown:
        raise SampleError(
            child_path(path, unknown[0]),
            f"unknown key (a sample has {', '.join(sorted(SAMPLE_KEYS))})",
        )
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        raise SampleError(child_path(path, "name"), "the name is a string")
    expected = raw.get("expected_output")
    if isinstance(expected, dict) and "$schema" in expected and not isinstance(expected["$schema"], str):
        raise SampleError(child_path(child_path(path, "expected_output"), "$schema"), "$schema is a URI string")
    return Sample(
        input=raw.get("input"),
        name=name,
        expected_output=expected,
        tool_results=parse_tool_results(raw.get("tool_results"), registry, child_path(path, "tool_results")),
    )


def parse_samples(raw: Any, registry: ToolRegistry, path: str = "$") -> list[Sample]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise SampleError(path, "samples are a list")
    return [parse_sample(item, registry, child_path(path, index)) for index, item in enumerate(raw)]
