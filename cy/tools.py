"""The tool registry: every function a Cy script can call.

A tool has a fully qualified name (FQN), a parameter signature, a description and the
flags the engine needs: ``pure`` (deterministic, safe to run inline in a workflow),
``hi_latency`` (needs a human), ``uses_host`` (receives the run's host as its first
argument), a timeout and a retry policy.

Names written in scripts are resolved as the reference implementation does:

* flat ``f``            -> ``native::tools::f``
* 2-part ``str::upper`` -> ``native::str::upper`` (prefix must be one of ``TWO_PART_PREFIXES``)
* 3-part ``app::x::y``  -> itself (prefix must be ``app``, ``mcp``, ``arc`` or ``native::tools``)

and each FQN also answers to its last segment (its *short name*) unless that is
ambiguous.
"""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Iterable

from .errors import AmbiguousToolError, CompilerError, ToolResolutionError

TWO_PART_PREFIXES = (
    "dict",
    "ip",
    "json",
    "list",
    "llm",
    "math",
    "regex",
    "str",
    "time",
    "type",
    "url",
)
THREE_PART_PREFIXES = ("app", "mcp", "arc", "native")

# Names that share one native implementation across domains; they never become short names.
POLYMORPHIC_ALIASES = frozenset(
    {
        "native::str::len",
        "native::list::len",
        "native::dict::len",
        "native::list::sum",
        "native::list::min",
        "native::list::max",
    }
)

# Flat names that cannot be assigned to even when no tool of that name is registered.
PROTECTED_NAMES = frozenset(
    {
        "len",
        "debug_print",
        "json_string_to_struct",
        "llm_run",
        "llm_evaluate_results",
        "llm_give_feedback",
        "llm_revise_task",
    }
)

ENTRY_POINT_GROUP = "cytasks.tools"

JSON_TYPES = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    list: "array",
    dict: "object",
    type(None): "null",
}


@dataclass(frozen=True)
class Param:
    name: str
    required: bool
    default: Any = None
    json_type: str | None = None
    keyword_only: bool = False


@dataclass(frozen=True)
class RetryPolicy:
    maximum_attempts: int = 3
    initial_interval_seconds: float = 1.0
    backoff_coefficient: float = 2.0
    maximum_interval_seconds: float = 60.0
    non_retryable_error_types: tuple[str, ...] = ()


LOCAL_TOOL_MAX_SECONDS = 60
"""A tool declared local may take at most this long (it holds its run's workflow task)."""
LOCAL_CALL_MAX_SECONDS = 10
"""A call of a tool with a ``timeout_param`` runs locally when it bounds itself to this."""


def check_locality(
    name: str,
    local: bool,
    hi_latency: bool,
    timeout_seconds: float | None,
    timeout_param: str | None,
    params: tuple["Param", ...] | None,
) -> None:
    if local and hi_latency:
        raise ValueError(f"Tool '{name}' waits for a person (hi_latency); it cannot run as a local activity")
    if local and timeout_seconds is not None and timeout_seconds > LOCAL_TOOL_MAX_SECONDS:
        raise ValueError(
            f"Tool '{name}' is local, so its timeout_seconds must be at most {LOCAL_TOOL_MAX_SECONDS}, "
            f"got {timeout_seconds:g}"
        )
    if timeout_param is not None and params is not None and timeout_param not in {p.name for p in params}:
        raise ValueError(f"Tool '{name}' has no parameter '{timeout_param}' (its timeout_param)")


@dataclass(frozen=True)
class ToolSpec:
    """A registered tool."""

    fqn: str
    fn: Callable[..., Any]
    params: tuple[Param, ...] | None = None
    """``None`` means the tool accepts any arguments (``*args``/``**kwargs``)."""
    description: str = ""
    pure: bool = False
    hi_latency: bool = False
    uses_host: bool = False
    is_async: bool = False
    timeout_seconds: float | None = None
    retry: RetryPolicy | None = None
    local: bool = False
    """Runs as a local activity in a run (no server round trip per call; see docs/plugins.md)."""
    timeout_param: str | None = None
    """The argument a call bounds its own duration with: a call that bounds it to at most
    ``LOCAL_CALL_MAX_SECONDS`` runs as a local activity."""
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def short_name(self) -> str:
        return self.fqn.rsplit("::", 1)[-1]

    def describe(self) -> dict[str, Any]:
        return {
            "fqn": self.fqn,
            "description": self.description,
            "pure": self.pure,
            "hi_latency": self.hi_latency,
            "timeout_seconds": self.timeout_seconds,
            "local": self.local,
            "params": None
            if self.params is None
            else [
                {
                    "name": p.name,
                    "required": p.required,
                    "default": p.default,
                    "type": p.json_type,
                }
                for p in self.params
            ],
        }


def signature_params(fn: Callable[..., Any], *, skip_first: bool = False) -> tuple[Param, ...] | None:
    """Derive a parameter list from a Python signature; ``None`` when it is open-ended."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    params: list[Param] = []
    items = list(sig.parameters.values())
    if skip_first and items:
        items = items[1:]
    for p in items:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            return None
        if p.kind is p.POSITIONAL_ONLY:
            return None
        annotation = p.annotation if p.annotation is not inspect.Parameter.empty else None
        json_type = JSON_TYPES.get(annotation) if isinstance(annotation, type) else None
        params.append(
            Param(
                name=p.name,
                required=p.default is inspect.Parameter.empty,
                default=None if p.default is inspect.Parameter.empty else p.default,
                json_type=json_type,
                keyword_only=p.kind is p.KEYWORD_ONLY,
            )
        )
    return tuple(params)


def canonical_name(name: str) -> str:
    """The FQN a name is registered under (no validation)."""
    parts = name.split("::")
    if len(parts) == 1:
        return f"native::tools::{name}"
    if len(parts) == 2:
        return f"native::{name}"
    return name


def check_namespace(name: str) -> None:
    """Raise ``CompilerError`` (at line 1, column 1, as the reference does) for a bad shape."""
    parts = name.split("::")
    if len(parts) == 1:
        return
    if len(parts) == 2:
        prefix = parts[0]
        if prefix in THREE_PART_PREFIXES:
            raise CompilerError(
                f"Namespace '{prefix}::' requires 3 parts: {prefix}::<group>::<name>, got '{name}'",
                1,
                1,
            )
        if prefix not in TWO_PART_PREFIXES:
            raise CompilerError(
                f"Invalid 2-part namespace prefix '{prefix}' in '{name}'. "
                f"Valid 2-part prefixes: {', '.join(TWO_PART_PREFIXES)}",
                1,
                1,
            )
        return
    if len(parts) == 3:
        prefix = parts[0]
        if prefix not in THREE_PART_PREFIXES:
            raise CompilerError(
                f"Invalid 3-part namespace prefix '{prefix}' in '{name}'. "
                f"Valid 3-part prefixes: {', '.join(THREE_PART_PREFIXES)}",
                1,
                1,
            )
        if prefix == "native" and parts[1] != "tools":
            raise CompilerError(
                "Native functions must use format: native::tools::function_name", 1, 1
            )
        return
    raise CompilerError(f"Invalid tool name '{name}': at most 3 parts are allowed", 1, 1)


class ToolRegistry:
    """A set of tools, resolvable by the names scripts use."""

    def __init__(self, tools: Iterable[ToolSpec] = ()) -> None:
        self._by_fqn: dict[str, ToolSpec] = {}
        self._flat_keys: set[str] = set()
        for spec in tools:
            self.add(spec)

    # -- registration -----------------------------------------------------------------

    def add(self, spec: ToolSpec, *, written_name: str | None = None) -> ToolSpec:
        self._by_fqn[spec.fqn] = spec
        if written_name is not None and "::" not in written_name:
            self._flat_keys.add(written_name)
        elif spec.fqn.startswith("native::tools::"):
            self._flat_keys.add(spec.short_name)
        return spec

    def register(
        self,
        name: str,
        fn: Callable[..., Any],
        *,
        description: str | None = None,
        pure: bool = False,
        hi_latency: bool = False,
        uses_host: bool = False,
        timeout_seconds: float | None = None,
        retry: RetryPolicy | None = None,
        params: tuple[Param, ...] | None | str = "auto",
        metadata: dict[str, Any] | None = None,
        local: bool = False,
        timeout_param: str | None = None,
    ) -> ToolSpec:
        """Register ``fn`` under ``name`` (flat, 2-part or 3-part) and return its spec."""
        if not callable(fn):
            raise ValueError(f"Tool '{name}' must be callable, got {type(fn).__name__}")
        if params == "auto":
            params = signature_params(fn, skip_first=uses_host)
        check_locality(name, local, hi_latency, timeout_seconds, timeout_param, params)  # type: ignore[arg-type]
        spec = ToolSpec(
            fqn=canonical_name(name),
            fn=fn,
            params=params,  # type: ignore[arg-type]
            description=description if description is not None else (inspect.getdoc(fn) or ""),
            pure=pure,
            hi_latency=hi_latency,
            uses_host=uses_host,
            is_async=inspect.iscoroutinefunction(fn),
            timeout_seconds=timeout_seconds,
            retry=retry,
            local=local,
            timeout_param=timeout_param,
            metadata=dict(metadata or {}),
        )
        return self.add(spec, written_name=name)

    def tool(self, name: str, **flags: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator form of :meth:`register`."""

        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.register(name, fn, **flags)
            return fn

        return decorate

    def update(self, other: "ToolRegistry") -> None:
        for spec in other:
            self.add(spec)
        self._flat_keys |= other._flat_keys

    def copy(self) -> "ToolRegistry":
        clone = ToolRegistry()
        clone._by_fqn = dict(self._by_fqn)
        clone._flat_keys = set(self._flat_keys)
        return clone

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> list[str]:
        """Load plugins: each entry point is a callable taking this registry."""
        loaded = []
        for ep in entry_points(group=group):
            hook = ep.load()
            hook(self)
            loaded.append(ep.name)
        return loaded

    # -- lookup -----------------------------------------------------------------------

    def __iter__(self):
        return iter(self._by_fqn.values())

    def __len__(self) -> int:
        return len(self._by_fqn)

    def __contains__(self, fqn: str) -> bool:
        return fqn in self._by_fqn

    def get(self, fqn: str) -> ToolSpec | None:
        return self._by_fqn.get(fqn)

    @property
    def flat_names(self) -> frozenset[str]:
        """Names a script may not assign to (flat tool keys plus the protected names)."""
        return frozenset(self._flat_keys) | PROTECTED_NAMES

    def _short_candidates(self, short: str) -> list[ToolSpec]:
        return [
            spec
            for fqn, spec in self._by_fqn.items()
            if fqn not in POLYMORPHIC_ALIASES and spec.short_name == short
        ]

    def resolve(self, name: str, line: int = 0, column: int = 0, *, suggest: bool = True) -> ToolSpec:
        """Resolve a name as written in a script, or raise a resolution error.

        ``suggest=False`` skips the "did you mean" search when the caller will discard it.
        """
        check_namespace(name)
        if "::" in name:
            spec = self._by_fqn.get(name)
            if spec is None and name.count("::") == 1:
                spec = self._by_fqn.get(f"native::{name}")
            if spec is None:
                raise self._not_found(name, line, column, suggest)
            return spec
        candidates = self._short_candidates(name)
        if not candidates:
            raise self._not_found(name, line, column, suggest)
        if len(candidates) == 1:
            return candidates[0]
        distinct = {id(spec.fn) for spec in candidates}
        if len(distinct) == 1:
            namespaced = [s for s in candidates if not s.fqn.startswith("native::tools::")]
            return (namespaced or candidates)[0]
        listing = " ".join(f"- {s.fqn}" for s in sorted(candidates, key=lambda s: s.fqn))
        raise AmbiguousToolError(
            f"Ambiguous tool name '{name}' Matches multiple tools: {listing} "
            "Please use the fully qualified name.",
            line,
            column,
            suggestion="Use one of: " + ", ".join(sorted(s.fqn for s in candidates)),
        )

    def suggestions(self, name: str, limit: int = 3) -> list[str]:
        spellings: set[str] = set()
        for fqn in self._by_fqn:
            spellings.add(fqn.rsplit("::", 1)[-1])
            if fqn.startswith("native::tools::"):
                continue
            spellings.add(fqn[len("native::") :] if fqn.startswith("native::") else fqn)
        target = name.rsplit("::", 1)[-1] if "::" not in name else name
        return difflib.get_close_matches(target, sorted(spellings), n=limit, cutoff=0.6)

    def _not_found(self, name: str, line: int, column: int, suggest: bool = True) -> ToolResolutionError:
        close = self.suggestions(name) if suggest else []
        return ToolResolutionError(
            f"Tool '{name}' not found",
            line,
            column,
            suggestion=f"Did you mean: {', '.join(close)}" if close else None,
        )
