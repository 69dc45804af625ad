"""Helpers called by generated code: the exact semantics and error messages of §4-§13 of the
Cy reference (LANGUAGE.md in the shared design docs).

Every helper that can fail takes ``pos``, a ``(line, column)`` tuple. Generated code
inlines the common fast paths (int arithmetic, dict/list indexing) and calls these for
everything else.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from .errors import (
    CyError,
    CyNameError,
    CyRuntimeError,
    InterpolationError,
    LimitExceeded,
    ToolInvocationError,
)
from .formatting import format_value, to_text
from .host import ToolCall, run_awaitable
from .values import ensure_small, set_build_limit


class Undefined:
    """The value of a variable that has not been assigned yet."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<undefined>"


UNDEFINED = Undefined()

_NUMBERS = (int, float)


class IterationTypeError(CyError):
    """A comprehension over a non-iterable (a plain ``TypeError`` in the reference)."""

    type = "TypeError"


class Limits:
    """Per-program limits baked into the generated code's globals."""

    __slots__ = ("max_iterations", "max_operations", "max_value_size", "max_int_bits", "max_call_operations")

    def __init__(
        self,
        max_iterations: int,
        max_operations: int,
        max_value_size: int,
        max_int_bits: int,
        max_call_operations: int | None = None,
    ):
        self.max_iterations = max_iterations
        self.max_operations = max_operations
        self.max_value_size = max_value_size
        self.max_int_bits = max_int_bits
        self.max_call_operations = max_call_operations


# In async runs, loops hand control back to the host every YIELD_EVERY operations.
YIELD_EVERY = 50_000


class RunState:
    """Mutable state of one run that helpers need: the operation budget spent so far."""

    __slots__ = ("calls", "yield_at")

    def __init__(self) -> None:
        self.calls = 0
        self.yield_at = YIELD_EVERY


async def yield_before(host: Any, state: RunState) -> bool:
    """In async runs, native calls first hand control back to the host once a slice of
    work is used, so straight-line code of heavy calls is spread over activations too."""
    if state.calls >= state.yield_at:
        await yield_to_host(host, state)
    return True


async def yield_to_host(host: Any, state: RunState) -> None:
    """Let the host interleave other work (a workflow ends its activation on a timer)."""
    state.yield_at = state.calls + YIELD_EVERY
    checkpoint = getattr(host, "checkpoint", None)
    if checkpoint is not None:
        await checkpoint()


# Work on large values costs one operation per 2**WORK_SHIFT elements or characters, so the
# operation budget bounds CPU time deterministically, not just the number of steps.
WORK_SHIFT = 5


def sized(value: Any) -> int:
    kind = type(value)
    if kind is str or kind is list or kind is dict:
        return len(value)
    return 0


def charge(state: RunState, units: int, limits: Limits, pos: tuple[int, int]) -> None:
    state.calls += units
    if state.calls > limits.max_operations:
        raise LimitExceeded(
            f"Execution exceeded the operation budget ({limits.max_operations} operations)",
            pos[0],
            pos[1],
        )


# -- names and limits ------------------------------------------------------------------


_CY_SPELLINGS = {"true": "True", "false": "False", "None": "null", "none": "null", "nil": "null"}


def undefined(name: str, pos: tuple[int, int]):
    hint = _CY_SPELLINGS.get(name)
    suffix = f" (Cy spells it {hint})" if hint else ""
    raise CyNameError(f"Variable '{name}' is not defined{suffix}", pos[0], pos[1])


def over_budget(ticks: int, limits: Limits, pos: tuple[int, int]):
    if ticks > limits.max_iterations:
        raise CyRuntimeError(
            f"Execution exceeded maximum total iterations ({limits.max_iterations}). "
            "Possible denial-of-service or runaway loop.",
            pos[0],
            pos[1],
        )
    raise LimitExceeded(
        f"Execution exceeded the operation budget ({limits.max_operations} operations)",
        pos[0],
        pos[1],
    )


def too_large(kind: str, size: int, limits: Limits, pos: tuple[int, int]):
    raise LimitExceeded(
        f"Value too large: a {kind} of length {size} exceeds the limit of {limits.max_value_size}",
        pos[0],
        pos[1],
    )


def check_int(value: Any, limits: Limits, pos: tuple[int, int]) -> Any:
    if type(value) is int and value.bit_length() > limits.max_int_bits:
        raise LimitExceeded(
            f"Integer too large: more than {limits.max_int_bits} bits", pos[0], pos[1]
        )
    return value


# -- arithmetic ------------------------------------------------------------------------


def add(a: Any, b: Any, pos: tuple[int, int], limits: Limits, state: RunState) -> Any:
    if isinstance(a, _NUMBERS) and isinstance(b, _NUMBERS):
        return check_int(a + b, limits, pos)
    if isinstance(a, str) and isinstance(b, str) or isinstance(a, list) and isinstance(b, list):
        size = len(a) + len(b)
        if size > limits.max_value_size:
            too_large(type(a).__name__, size, limits, pos)
        if size >> WORK_SHIFT:
            charge(state, size >> WORK_SHIFT, limits, pos)
        return a + b
    raise CyRuntimeError(
        f"Cannot use + operator with {_name(a)} and {_name(b)}. "
        "Both operands must be the same type (both numbers, both strings, or both lists)",
        pos[0],
        pos[1],
    )


def _numeric(value: Any) -> Any:
    if isinstance(value, str) and value.replace(".", "", 1).replace("-", "", 1).isdigit():
        return float(value) if "." in value else int(value)
    return value


def _operands(a: Any, b: Any, pos: tuple[int, int]) -> tuple[Any, Any]:
    try:
        a = _numeric(a)
        b = _numeric(b)
    except ValueError as exc:
        raise CyRuntimeError(f"Error in arithmetic operation: {exc}", pos[0], pos[1]) from None
    if not isinstance(a, _NUMBERS) or not isinstance(b, _NUMBERS):
        raise CyRuntimeError(
            f"Arithmetic operation requires numeric operands, got {_name(a)} and {_name(b)}",
            pos[0],
            pos[1],
        )
    return a, b


def _arith_failure(exc: Exception, pos: tuple[int, int]):
    raise CyRuntimeError(f"Error in arithmetic operation: {exc}", pos[0], pos[1]) from None


def sub(a: Any, b: Any, pos: tuple[int, int], limits: Limits) -> Any:
    a, b = _operands(a, b, pos)
    try:
        return check_int(a - b, limits, pos)
    except (OverflowError, ValueError, TypeError) as exc:
        _arith_failure(exc, pos)


def mul(a: Any, b: Any, pos: tuple[int, int], limits: Limits) -> Any:
    a, b = _operands(a, b, pos)
    if type(a) is int or type(b) is int:
        bits = abs(int(a)).bit_length() + abs(int(b)).bit_length() if isinstance(a, int) and isinstance(b, int) else 0
        if bits > limits.max_int_bits + 1:
            raise LimitExceeded(
                f"Integer too large: more than {limits.max_int_bits} bits", pos[0], pos[1]
            )
    try:
        return check_int(a * b, limits, pos)
    except (OverflowError, ValueError, TypeError) as exc:
        _arith_failure(exc, pos)


def div(a: Any, b: Any, pos: tuple[int, int]) -> float:
    a, b = _operands(a, b, pos)
    if b == 0:
        raise CyRuntimeError("Division by zero", pos[0], pos[1])
    try:
        return float(a) / float(b)
    except (OverflowError, ValueError, TypeError) as exc:
        _arith_failure(exc, pos)


def mod(a: Any, b: Any, pos: tuple[int, int]) -> Any:
    a, b = _operands(a, b, pos)
    if b == 0:
        raise CyRuntimeError("Modulo by zero", pos[0], pos[1])
    try:
        return a % b
    except (OverflowError, ValueError, TypeError) as exc:
        _arith_failure(exc, pos)


def unary(op: str, value: Any, pos: tuple[int, int]) -> Any:
    if isinstance(value, str) and value.replace(".", "", 1).isdigit():
        try:
            value = float(value) if "." in value else int(value)
        except ValueError as exc:
            raise CyRuntimeError(str(exc), pos[0], pos[1]) from None
    if not isinstance(value, _NUMBERS):
        word = "minus" if op == "-" else "plus"
        raise CyRuntimeError(
            f"Unary {word} requires a numeric operand, got {_name(value)}", pos[0], pos[1]
        )
    return -value if op == "-" else +value


# -- comparison ------------------------------------------------------------------------


def compare(op: str, a: Any, b: Any, pos: tuple[int, int]) -> bool:
    try:
        if op == "<":
            return bool(a < b)
        if op == "<=":
            return bool(a <= b)
        if op == ">":
            return bool(a > b)
        return bool(a >= b)
    except TypeError as exc:
        raise CyRuntimeError(
            f"Cannot compare {_name(a)} and {_name(b)}: {exc}", pos[0], pos[1]
        ) from None


def lt(a: Any, b: Any, pos: tuple[int, int]) -> bool:
    return compare("<", a, b, pos)


def le(a: Any, b: Any, pos: tuple[int, int]) -> bool:
    return compare("<=", a, b, pos)


def gt(a: Any, b: Any, pos: tuple[int, int]) -> bool:
    return compare(">", a, b, pos)


def ge(a: Any, b: Any, pos: tuple[int, int]) -> bool:
    return compare(">=", a, b, pos)


CONTAINERS = frozenset({list, dict})


def deep_equal(a: Any, b: Any, pos: tuple[int, int]) -> bool:
    """``==`` of two lists or dicts: a tree walk, so both must fit the value budget as text."""
    if a is b:
        return True
    ensure_small(a, "a value compared with ==", pos=pos)
    ensure_small(b, "a value compared with ==", pos=pos)
    return bool(a == b)


def contains(a: Any, b: Any, pos: tuple[int, int]) -> bool:
    if not isinstance(b, (list, dict, str)):
        raise CyRuntimeError(
            "'in' requires a list, dictionary, or string on the right side, "
            f"got {_name(b)}",
            pos[0],
            pos[1],
        )
    if type(b) is list and type(a) in CONTAINERS:
        ensure_small(a, "the value 'in' looks for", pos=pos)
        if CONTAINERS.intersection(map(type, b)):
            ensure_small(b, "the list 'in' searches", pos=pos)
    try:
        return bool(a in b)
    except TypeError as exc:
        raise CyRuntimeError(
            f"Cannot compare {_name(a)} and {_name(b)}: {exc}", pos[0], pos[1]
        ) from None


# -- fields and indexes ----------------------------------------------------------------


def field(obj: Any, name: str) -> Any:
    if type(obj) is dict or isinstance(obj, dict):
        return obj.get(name)
    return None


def index(obj: Any, key: Any, pos: tuple[int, int]) -> Any:
    if isinstance(obj, (list, tuple)):
        if isinstance(key, int):
            n = len(obj)
            if key < -n or key >= n:
                return None
            return obj[key]
        raise InterpolationError(
            f"List index must be an integer, got {_name(key)}", pos[0], pos[1]
        )
    if isinstance(obj, dict):
        if isinstance(key, str):
            return obj.get(key)
        if isinstance(key, (int, float)):
            return obj.get(str(key))
        raise InterpolationError(
            f"Dictionary key must be string or number, got {_name(key)}", pos[0], pos[1]
        )
    if isinstance(obj, str):
        if isinstance(key, int):
            try:
                return obj[key]
            except IndexError as exc:
                raise InterpolationError(f"Index out of range: {exc}", pos[0], pos[1]) from None
        raise InterpolationError(
            f"String index must be an integer, got {_name(key)}", pos[0], pos[1]
        )
    raise InterpolationError(f"Cannot index object of type {_name(obj)}", pos[0], pos[1])


def set_index(obj: Any, key: Any, value: Any, pos: tuple[int, int]) -> None:
    if isinstance(obj, dict):
        obj[key if isinstance(key, str) else to_text(key)] = value
    elif isinstance(obj, list):
        if not isinstance(key, int):
            raise InterpolationError(
                f"List index must be an integer, got {_name(key)}", pos[0], pos[1]
            )
        if key < -len(obj) or key >= len(obj):
            raise InterpolationError("Index out of range", pos[0], pos[1])
        obj[key] = value
    elif isinstance(obj, str):
        raise InterpolationError("Cannot assign to index of immutable type str", pos[0], pos[1])
    else:
        raise InterpolationError(
            f"Cannot assign to index of type {_name(obj)}", pos[0], pos[1]
        )


def set_field(root: Any, path: tuple[str, ...], value: Any, pos: tuple[int, int]) -> None:
    obj = root
    for name in path[:-1]:
        if not isinstance(obj, dict):
            raise CyRuntimeError(
                f"Cannot access field '{name}' on {_name(obj)}. "
                "Field access only works on dictionaries.",
                pos[0],
                pos[1],
            )
        child = obj.get(name)
        if child is None:
            child = obj[name] = {}
        obj = child
    last = path[-1]
    if not isinstance(obj, dict):
        raise CyRuntimeError(
            f"Cannot assign field '{last}' to {_name(obj)}. "
            "Field assignment only works on dictionaries.",
            pos[0],
            pos[1],
        )
    obj[last] = value


# -- iteration -------------------------------------------------------------------------


def _iterable(value: Any) -> list | None:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value)
    if isinstance(value, str):
        return list(value)
    return None


def for_items(value: Any, pos: tuple[int, int]) -> list:
    items = _iterable(value)
    if items is None:
        raise ToolInvocationError(
            f"Tool '__to_iterable' failed: Cannot iterate over {_name(value)}. "
            "for-in loops support lists, dicts, and strings only.",
            pos[0],
            pos[1],
        )
    return items


def comprehension_items(value: Any) -> list:
    items = _iterable(value)
    if items is None:
        raise IterationTypeError(
            f"Cannot iterate over {_name(value)}. "
            "for-in loops support lists, dicts, and strings only."
        )
    return items


# -- strings ---------------------------------------------------------------------------


def key_text(value: Any) -> str:
    return value if type(value) is str else to_text(value)


def render(values: tuple, parts: tuple, mode: str, item_tag: str, limits: Limits, pos, state: RunState) -> str:
    set_build_limit(limits.max_value_size)
    out = []
    for part in parts:
        if type(part) is str:
            out.append(part)
            continue
        value = values[part[0]]
        hint = part[1]
        if hint is None and type(value) is str and mode != "json":
            out.append(value)
        else:
            out.append(format_value(value, hint if hint is not None else mode, item_tag))
    text = "".join(out)
    if len(text) > limits.max_value_size:
        too_large("str", len(text), limits, pos)
    if len(text) >> WORK_SHIFT:
        charge(state, len(text) >> WORK_SHIFT, limits, pos)
    return text


# -- errors caught by try/catch --------------------------------------------------------


def caught(exc: BaseException, pos: tuple[int, int]) -> CyError:
    """The error value a ``catch`` binds; re-raises what scripts must not catch."""
    if isinstance(exc, LimitExceeded):
        raise exc
    if isinstance(exc, (RecursionError, MemoryError)):
        raise LimitExceeded("Value or computation nested too deeply", pos[0], pos[1]) from None
    if isinstance(exc, CyError) and not isinstance(exc, IterationTypeError):
        return exc
    return CyRuntimeError(str(exc), pos[0], pos[1])


# -- tool calls ------------------------------------------------------------------------

_PATHS = re.compile(r"(?<!\w)/(?:[a-zA-Z0-9._-]+/)+[a-zA-Z0-9._-]+")
_WINDOWS_PATHS = re.compile(r"[A-Z]:\\(?:[^\s\\]+\\)*[^\s\\]+")


def redact(message: str) -> str:
    return _WINDOWS_PATHS.sub("<redacted-path>", _PATHS.sub("<redacted-path>", message))


def tool_failure(exc: BaseException, fqn: str, pos: tuple[int, int]) -> CyError:
    if isinstance(exc, CyError):
        return exc
    if isinstance(exc, RecursionError):
        return LimitExceeded("Value or computation nested too deeply", pos[0], pos[1])
    if isinstance(exc, ValueError):
        return ToolInvocationError(redact(str(exc)), pos[0], pos[1])
    return ToolInvocationError(redact(f"Tool '{fqn}' failed: {exc}"), pos[0], pos[1])


def tuple_as_list(value: Any) -> Any:
    """Results of host tools: not built by the script, so not under its size cap."""
    return list(value) if type(value) is tuple else value


def tool_result(value: Any, limits: Limits, pos: tuple[int, int]) -> Any:
    kind = type(value)
    if kind is tuple:
        value = list(value)
        kind = list
    if (kind is str or kind is list or kind is dict) and len(value) > limits.max_value_size:
        too_large(kind.__name__, len(value), limits, pos)
    return value


class ToolCaller:
    """Calls one resolved tool the way a script call needs (fast path for pure natives)."""

    __slots__ = ("spec", "fqn", "written", "limits", "inline", "binding_error", "shift")

    def __init__(self, spec, written: str, limits: Limits, binding_error: str | None = None):
        self.spec = spec
        self.fqn = spec.fqn
        self.written = written
        self.limits = limits
        self.inline = spec.pure and not spec.hi_latency
        self.binding_error = binding_error
        self.shift = spec.metadata.get("work_shift", WORK_SHIFT)

    def _charge_inputs(self, state: RunState, pos, args: tuple, kwargs: dict) -> None:
        """Refuse the work before doing it when its inputs alone exceed the budget. Lists and
        dicts cost by the native's own weight, text at the weight of C-speed work."""
        size = text = 0
        for value in args:
            if type(value) is str:
                text += len(value)
            else:
                size += sized(value)
        for value in kwargs.values():
            if type(value) is str:
                text += len(value)
            else:
                size += sized(value)
        units = (size >> self.shift) + (text >> WORK_SHIFT)
        size += text
        if units:
            ceiling = self.limits.max_call_operations
            if ceiling is not None and units > ceiling:
                raise LimitExceeded(
                    f"'{self.written}' on {size:,} elements or characters is more work than one call "
                    f"may do here ({ceiling:,} operations); split the data into smaller parts",
                    pos[0],
                    pos[1],
                )
            charge(state, units, self.limits, pos)

    def _charge_result(self, state: RunState, pos, result: Any) -> None:
        size = sized(result)
        if size >> WORK_SHIFT:
            charge(state, size >> WORK_SHIFT, self.limits, pos)

    def _count(self, state: RunState, pos) -> None:
        state.calls += 1
        if state.calls > self.limits.max_operations:
            raise LimitExceeded(
                f"Execution exceeded the operation budget ({self.limits.max_operations} operations)",
                pos[0],
                pos[1],
            )

    def call(self, host, state: RunState, pos, args: tuple, kwargs: dict) -> Any:
        self._count(state, pos)
        if self.inline:
            self._charge_inputs(state, pos, args, kwargs)
        if self.binding_error is not None:
            raise ToolInvocationError(self.binding_error, pos[0], pos[1])
        spec = self.spec
        try:
            if self.inline:
                set_build_limit(self.limits.max_value_size)
                if spec.uses_host:
                    result = spec.fn(host, *args, **kwargs)
                else:
                    result = spec.fn(*args, **kwargs)
            else:
                result = host.call_tool(
                    ToolCall(spec, tuple(args), dict(kwargs), self.written, pos[0], pos[1])
                )
            if inspect.isawaitable(result):
                result = run_awaitable(result)
        except LimitExceeded:
            raise
        except Exception as exc:
            raise tool_failure(exc, self.fqn, pos) from None
        if self.inline:
            self._charge_result(state, pos, result)
            return tool_result(result, self.limits, pos)
        return tuple_as_list(result)

    # The same steps as ``call``, written out again: this is the hot path of every native
    # call, and sharing it through helper methods would cost extra calls per call.
    async def call_async(self, host, state: RunState, pos, args: tuple, kwargs: dict) -> Any:
        self._count(state, pos)
        if self.inline:
            self._charge_inputs(state, pos, args, kwargs)
        if self.binding_error is not None:
            raise ToolInvocationError(self.binding_error, pos[0], pos[1])
        spec = self.spec
        try:
            if self.inline:
                set_build_limit(self.limits.max_value_size)
                if spec.uses_host:
                    result = spec.fn(host, *args, **kwargs)
                else:
                    result = spec.fn(*args, **kwargs)
            else:
                result = host.call_tool(
                    ToolCall(spec, tuple(args), dict(kwargs), self.written, pos[0], pos[1])
                )
            if inspect.isawaitable(result):
                result = await result
        except LimitExceeded:
            raise
        except Exception as exc:
            raise tool_failure(exc, self.fqn, pos) from None
        if self.inline:
            self._charge_result(state, pos, result)
            return tool_result(result, self.limits, pos)
        return tuple_as_list(result)


def binding_error(params, n_positional: int, names: list[str]) -> str | None:
    """The reference's argument-binding error for a call shape, or None when it binds."""
    if params is None or any(p.keyword_only for p in params):
        return None
    if n_positional > len(params):
        return f"Too many positional arguments: got {n_positional}, expected at most {len(params)}"
    known = {p.name: i for i, p in enumerate(params)}
    for name in names:
        if name not in known:
            return f"Unknown parameter '{name}'"
        if known[name] < n_positional:
            return f"Parameter '{name}' specified both positionally and by name"
    given = set(names)
    for i, p in enumerate(params):
        if p.required and i >= n_positional and p.name not in given:
            return f"Missing required parameter '{p.name}'"
    return None


def _name(value: Any) -> str:
    if isinstance(value, CyError):
        return value.type
    return type(value).__name__
