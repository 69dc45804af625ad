"""Validating a value against a JSON Schema: every failure with its JSON path, or the place in
the schema that could not be evaluated. Blocking: callers on an event loop run it in a thread."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jsonschema import FormatChecker
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from referencing import Registry
from referencing.exceptions import Unresolvable

from . import patterns

LIBRARY_FAULTS = (AttributeError, TypeError, KeyError, ValueError)
DEFAULT_TOTAL_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Failure:
    path: str
    """JSON path of the failing value, e.g. ``$.items[3].name``."""
    message: str
    validator: str


class SchemaFault(Exception):
    """The schema could not be evaluated on this value (not the value's fault)."""

    def __init__(self, schema_path: str, message: str, validator: str) -> None:
        super().__init__(message)
        self.schema_path = schema_path
        self.message = message
        self.validator = validator


def json_path(parts: list[str | int]) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def patterns_of(schema: Any, path: list[str | int] | None = None) -> Iterator[tuple[str, list[str | int]]]:
    """Every pattern in ``schema`` with its place."""
    stack: list[tuple[Any, list[str | int]]] = [(schema, path or [])]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                yield node["pattern"], [*where, "pattern"]
            if isinstance(node.get("patternProperties"), dict):
                for key in node["patternProperties"]:
                    yield key, [*where, "patternProperties", key]
            stack.extend((child, [*where, key]) for key, child in node.items())
        elif isinstance(node, list):
            stack.extend((child, [*where, index]) for index, child in enumerate(node))


@lru_cache(maxsize=16)
def format_checker(cls: type[Validator]) -> FormatChecker:
    """The draft's format checker, with `regex` checked by the `regex` engine (as patterns are)."""
    checker = FormatChecker(formats=())
    checker.checkers = {**cls.FORMAT_CHECKER.checkers, "regex": (patterns.is_regex, ())}
    return checker


@lru_cache(maxsize=512)
def _validator(schema_json: str) -> Validator:
    schema = json.loads(schema_json)
    cls = validator_for(schema)
    return cls(schema, format_checker=format_checker(cls), registry=Registry())


def _pattern_place(schema: Any, pattern: str) -> str:
    for candidate, where in patterns_of(schema):
        if candidate == pattern:
            return json_path(where)
    return "$"


def failures_of(
    schema: Any,
    value: Any,
    *,
    pattern_timeout: float = patterns.DEFAULT_TIMEOUT_SECONDS,
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT_SECONDS,
) -> list[Failure]:
    """Every way ``value`` fails ``schema``, sorted by path; ``SchemaFault`` when the schema
    cannot be evaluated (a pattern too slow or invalid, a ``$ref`` outside it, recursion)."""
    try:
        validator = _validator(json.dumps(schema, sort_keys=True))
        with patterns.deadline(pattern_timeout, total_timeout):
            errors = sorted(validator.iter_errors(value), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    except patterns.PatternTimeout as error:
        raise SchemaFault(
            _pattern_place(schema, error.pattern),
            f"pattern {error.pattern!r} took longer than {pattern_timeout}s to evaluate",
            "pattern",
        ) from None
    except patterns.PatternInvalid as error:
        raise SchemaFault(_pattern_place(schema, error.pattern), str(error), "pattern") from None
    except Unresolvable as error:
        raise SchemaFault("$", f"$ref {error.ref!r} does not resolve inside the schema", "$ref") from None
    except RecursionError:
        raise SchemaFault("$", "the schema recurses too deeply on this value", "depth") from None
    except LIBRARY_FAULTS as error:
        raise SchemaFault("$", f"the schema cannot be evaluated ({type(error).__name__}: {error})", "schema") from None
    return [Failure(error.json_path, error.message, str(error.validator)) for error in errors]
