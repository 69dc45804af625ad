"""Program stage, the last one: public entry points; compile a script once, run it many times.

Pipeline: scanner -> parser (+ interpolation) -> resolver -> typecheck -> codegen ->
**program**. Drives the earlier stages (``parser``, ``resolver``, ``typecheck``,
``codegen``) and imports the support modules (``errors``, ``host``, ``options``,
``runtime``, ``tools``, ``natives``); no module of ``cy`` imports this one except the
package ``__init__`` and the conformance runner.
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from . import syntax
from .codegen import CodeGenerator, compile_function
from .errors import CyError, CyNameError, CyRuntimeError, LimitExceeded
from .host import AsyncLocalHost, LocalHost
from .options import CyOptions
from .parser import parse
from .resolver import Resolver
from .runtime import RunState
from .tools import ToolRegistry, canonical_name
from .typecheck import type_errors


class Outcome(NamedTuple):
    """How a run ended: ``returned`` is False when no ``return`` was executed."""

    returned: bool
    value: Any


@dataclass(frozen=True)
class CallSite:
    fqn: str
    written_name: str
    line: int
    column: int


@dataclass(frozen=True)
class Analysis:
    tools_used: list[str] = field(default_factory=list)
    external_variables: list[str] = field(default_factory=list)
    hi_latency_calls: list[CallSite] = field(default_factory=list)


def _default_registry() -> ToolRegistry:
    from .natives.registry import default_registry

    return default_registry()


def _front_end(source: str, registry: ToolRegistry, options: CyOptions) -> tuple[syntax.Program, Resolver, list[CyError]]:
    tree = parse(source, options.max_nesting_depth)
    resolver = Resolver(registry, stub_tools=options.stub_tools)
    try:
        errors = resolver.resolve(tree, validate_output=options.validate_output)
    except RecursionError:
        errors = [CyError("Program is nested too deeply", 1, 1)]
    if not errors and options.undefined_variables == "error":
        errors = undefined_variable_errors(resolver, options.predefined)
    if not errors and options.check_types:
        errors = type_errors(tree, registry)
    return tree, resolver, errors


PYTHON_SPELLINGS = {
    "true": "True",
    "false": "False",
    "None": "null",
    "none": "null",
    "nil": "null",
    "undefined": "null",
    "TRUE": "True",
    "FALSE": "False",
    "NULL": "null",
    "Null": "null",
}


def name_suggestion(name: str, known: set[str]) -> str | None:
    """A hint for an undefined name: Cy's spelling of a Python/JS literal, or a close name."""
    if name in PYTHON_SPELLINGS:
        return f"Cy spells it {PYTHON_SPELLINGS[name]}"
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
    return f"Did you mean '{close[0]}'?" if close else None


def undefined_variable_errors(resolver: Resolver, predefined: tuple[str, ...] = ()) -> list[CyError]:
    """A NameError at the first read of every name the script reads but never assigns."""
    known = set(resolver.assigned) | {"input", *predefined}
    errors: list[CyError] = []
    for name in sorted(resolver.read - known, key=lambda n: resolver.first_read.get(n, (0, 0))):
        line, column = resolver.first_read.get(name, (0, 0))
        suggestion = name_suggestion(name, known)
        message = f"Variable '{name}' is never assigned" + (f". {suggestion}" if suggestion else "")
        errors.append(CyNameError(message, line, column, suggestion=suggestion))
    return errors


def compile_script(
    source: str, registry: ToolRegistry | None = None, options: CyOptions | None = None
) -> "Program":
    """Parse and check ``source``; raises the first compile-time ``CyError``."""
    options = options or CyOptions()
    registry = registry if registry is not None else _default_registry()
    tree, resolver, errors = _front_end(source, registry, options)
    if errors:
        raise errors[0]
    return Program(source, tree, resolver, options, registry)


def check_script(
    source: str, registry: ToolRegistry | None = None, options: CyOptions | None = None
) -> list[CyError]:
    """Every compile-time error of ``source`` (only the first one after a syntax error)."""
    options = options or CyOptions()
    registry = registry if registry is not None else _default_registry()
    try:
        _, _, errors = _front_end(source, registry, options)
    except CyError as exc:
        return [exc]
    return list(errors)


class Program:
    """A compiled script. Thread-safe to run concurrently; each run has its own state."""

    def __init__(
        self, source: str, tree: syntax.Program, resolver: Resolver, options: CyOptions, registry: ToolRegistry
    ) -> None:
        self.source = source
        self._registry = registry
        self.options = options
        self._tree = tree
        self._calls = list(resolver.calls)
        self._read = set(resolver.read)
        self._assigned = set(resolver.assigned)
        self._sync_fn = None
        self._async_fn = None

    # -- compiled code ----------------------------------------------------------------

    def _function(self, is_async: bool):
        if is_async:
            if self._async_fn is None:
                self._async_fn, _ = compile_function(self._tree, self.options, is_async=True)
            return self._async_fn
        if self._sync_fn is None:
            self._sync_fn, _ = compile_function(self._tree, self.options, is_async=False)
        return self._sync_fn

    def python_source(self, is_async: bool = False) -> str:
        """The generated Python source (for debugging and tests)."""
        return CodeGenerator(self._tree, self.options, is_async=is_async).generate()[0]

    # -- running ----------------------------------------------------------------------

    def _type_check(self, input: Any, variables: dict | None) -> None:
        if not self.options.check_types:
            return
        errors = type_errors(
            self._tree,
            self._registry,
            input_value=input,
            known_names=set(variables or ()) | {"input"},
        )
        if errors:
            raise errors[0]

    def run(self, input: Any = None, host: Any = None, variables: dict | None = None) -> Outcome:
        self._type_check(input, variables)
        function = self._function(False)
        host = host if host is not None else LocalHost()
        injected = copy.deepcopy(variables) if variables else None
        try:
            returned, value = function(input, injected, host, RunState())
        except CyError:
            raise
        except (RecursionError, MemoryError):
            raise LimitExceeded("Value or computation nested too deeply") from None
        except Exception as exc:
            raise CyRuntimeError(str(exc)) from exc
        return Outcome(returned, value)

    async def run_async(self, input: Any = None, host: Any = None, variables: dict | None = None) -> Outcome:
        self._type_check(input, variables)
        function = self._function(True)
        host = host if host is not None else AsyncLocalHost()
        injected = copy.deepcopy(variables) if variables else None
        try:
            returned, value = await function(input, injected, host, RunState())
        except CyError:
            raise
        except (RecursionError, MemoryError):
            raise LimitExceeded("Value or computation nested too deeply") from None
        except Exception as exc:
            raise CyRuntimeError(str(exc)) from exc
        return Outcome(returned, value)

    # -- static facts -----------------------------------------------------------------

    def analyze(self) -> Analysis:
        tools = sorted(
            {
                call.spec.fqn if call.spec is not None else canonical_name(call.name)
                for call in self._calls
            }
        )
        external = sorted(self._read - self._assigned - {"input"})
        hi_latency = [
            CallSite(call.spec.fqn, call.name, call.line, call.col)
            for call in self._calls
            if call.spec is not None and call.spec.hi_latency
        ]
        return Analysis(tools, external, hi_latency)
