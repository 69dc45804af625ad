"""JSON Schema `pattern`s evaluated by the `regex` engine, bounded in time.

`jsonschema` matches `pattern`, `patternProperties` (also when `additionalProperties` or
`unevaluatedProperties` look at them) with `re.search`, which has no time limit and holds
the GIL: `^(a+)+$` against 28 a's and `!` takes seconds and stalls every thread. Here the
modules of `jsonschema` that match patterns see a `re` whose `search` is `regex.search`
with a timeout that also releases the GIL; everything else of `re` is untouched.
"""

from __future__ import annotations

import re
import threading
import time
from types import ModuleType
from typing import Any

import regex

DEFAULT_TIMEOUT_SECONDS = 0.5
COMPILE_ERRORS = (regex.error, OverflowError, RecursionError, ValueError, MemoryError)


class PatternTimeout(Exception):
    def __init__(self, pattern: str) -> None:
        super().__init__(f"pattern {pattern!r} took too long to evaluate")
        self.pattern = pattern


class PatternInvalid(Exception):
    def __init__(self, pattern: str, reason: str) -> None:
        super().__init__(f"pattern {pattern!r} does not compile: {reason}")
        self.pattern = pattern
        self.reason = reason


_limits = threading.local()


class deadline:
    """Within this block (in this thread) each match gets ``per_match`` seconds and all
    matches together ``total`` seconds."""

    def __init__(self, per_match: float, total: float) -> None:
        self.per_match = per_match
        self.total = total

    def __enter__(self) -> None:
        self._saved = getattr(_limits, "value", None)
        _limits.value = (self.per_match, time.monotonic() + self.total)

    def __exit__(self, *exc: object) -> None:
        _limits.value = self._saved


def bounded_search(pattern: str, string: str, flags: int = 0) -> Any:
    per_match, ends_at = getattr(_limits, "value", None) or (DEFAULT_TIMEOUT_SECONDS, float("inf"))
    timeout = min(per_match, ends_at - time.monotonic())
    if timeout <= 0:
        raise PatternTimeout(pattern)
    try:
        return regex.search(pattern, string, flags, timeout=timeout, concurrent=True)
    except TimeoutError:
        raise PatternTimeout(pattern) from None
    except COMPILE_ERRORS as error:
        raise PatternInvalid(pattern, str(error) or type(error).__name__) from None


def check_pattern(pattern: str) -> None:
    """PatternInvalid unless the `regex` engine compiles ``pattern``."""
    try:
        regex.compile(pattern)
    except COMPILE_ERRORS as error:
        raise PatternInvalid(pattern, str(error) or type(error).__name__) from None


def is_regex(instance: object) -> bool:
    """The `regex` format: a string the `regex` engine compiles (any other value passes)."""
    if not isinstance(instance, str):
        return True
    try:
        check_pattern(instance)
    except PatternInvalid:
        return False
    return True


class _BoundedRe(ModuleType):
    def __init__(self) -> None:
        super().__init__("re")

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)

    search = staticmethod(bounded_search)


def install() -> None:
    import jsonschema._keywords
    import jsonschema._legacy_keywords
    import jsonschema._utils

    bounded = _BoundedRe()
    for module in (jsonschema._keywords, jsonschema._legacy_keywords, jsonschema._utils):
        module.re = bounded  # type: ignore[attr-defined]


install()
