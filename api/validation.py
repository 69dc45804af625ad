"""JSON Schema checks: task schemas must be valid schemas, run inputs must match them.

Patterns are matched by `regex` with a time limit (see `schema_patterns`); `$ref`s resolve
only inside the schema (nothing is fetched); callers run these functions off the event loop.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from jsonschema import FormatChecker
from jsonschema import exceptions as jsonschema_exceptions
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from referencing import Registry
from referencing.exceptions import Unresolvable

from . import schema_patterns
from .offload import off_loop
from .problems import ProblemError

MAX_REPORTED_ERRORS = 20
LIBRARY_FAULTS = (AttributeError, TypeError, KeyError, ValueError)


def _slug(field: str) -> str:
    return f"invalid-{field.replace('_', '-')}"


def _json_path(parts: list[str | int]) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _patterns(schema: Any, path: list[str | int]) -> Iterator[tuple[str, list[str | int]]]:
    """Every pattern in ``schema`` with its place."""
    stack: list[tuple[Any, list[str | int]]] = [(schema, path)]
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


def _schema_problem(field: str, path: str, message: str, validator: str) -> ProblemError:
    return ProblemError(
        422,
        _slug(field),
        f"{field} is not a valid JSON Schema: {message} (at {path})",
        errors=[{"field": field, "in": "body", "path": path, "message": message, "validator": validator}],
    )


def check_json_schema(schema: Any, field: str) -> None:
    """422 unless ``schema`` is a valid JSON Schema (by the metaschema it declares, default 2020-12)
    whose patterns the `regex` engine compiles."""
    if schema is None:
        return
    if not isinstance(schema, (dict, bool)):
        raise ProblemError(
            422,
            _slug(field),
            f"{field} must be a JSON Schema object",
            errors=[{"field": field, "in": "body", "path": "$", "message": "must be an object"}],
        )
    if isinstance(schema, dict) and not isinstance(schema.get("$schema", ""), str):
        raise _schema_problem(field, "$['$schema']", "$schema must be a URI string", "$schema")
    cls = validator_for(schema)
    try:
        cls.check_schema(schema, format_checker=_format_checker(cls))
    except jsonschema_exceptions.SchemaError as error:
        raise _schema_problem(field, error.json_path, error.message, str(error.validator)) from error
    except RecursionError:
        raise _schema_problem(field, "$", "the schema nests too deeply to check", "depth") from None
    except LIBRARY_FAULTS as error:  # jsonschema tripping over a value its metaschema let through
        raise _schema_problem(field, "$", f"the schema cannot be used ({type(error).__name__}: {error})", "schema") from None
    for pattern, where in _patterns(schema, []):
        try:
            schema_patterns.check_pattern(pattern)
        except schema_patterns.PatternInvalid as error:
            raise _schema_problem(field, _json_path(where), str(error), "pattern") from None


@lru_cache(maxsize=16)
def _format_checker(cls: type[Validator]) -> FormatChecker:
    """The draft's format checker, with `regex` checked by the `regex` engine (as patterns are)."""
    checker = FormatChecker(formats=())
    checker.checkers = {**cls.FORMAT_CHECKER.checkers, "regex": (schema_patterns.is_regex, ())}
    return checker


@lru_cache(maxsize=512)
def _validator(schema_json: str) -> Validator:
    schema = json.loads(schema_json)
    cls = validator_for(schema)
    return cls(schema, format_checker=_format_checker(cls), registry=Registry())


def _pattern_place(schema: Any, pattern: str) -> str:
    for candidate, where in _patterns(schema, []):
        if candidate == pattern:
            return _json_path(where)
    return "$"


def _schema_fault(schema: Any, path: str, message: str, validator: str) -> ProblemError:
    return ProblemError(
        422,
        "input-validation-failed",
        f"input could not be checked: input_schema at {path}: {message}",
        errors=[{"field": "input_schema", "schema_path": path, "path": "$", "message": message, "validator": validator}],
    )


def validate_input(
    schema: dict[str, Any] | None,
    value: Any,
    *,
    pattern_timeout: float = schema_patterns.DEFAULT_TIMEOUT_SECONDS,
    total_timeout: float = 5.0,
) -> None:
    """422 naming every failing JSON path when ``value`` does not match ``schema``, or naming the
    place in the schema that could not be evaluated (a pattern too slow, a `$ref` that does not
    resolve, recursion too deep). Blocking: call it off the event loop."""
    if schema is None:
        return
    try:
        validator = _validator(json.dumps(schema, sort_keys=True))
        with schema_patterns.deadline(pattern_timeout, total_timeout):
            failures = sorted(
                validator.iter_errors(value), key=lambda e: (list(map(str, e.absolute_path)), e.message)
            )
    except schema_patterns.PatternTimeout as error:
        raise _schema_fault(
            schema, _pattern_place(schema, error.pattern),
            f"pattern {error.pattern!r} took longer than {pattern_timeout}s to evaluate", "pattern",
        ) from None
    except schema_patterns.PatternInvalid as error:
        raise _schema_fault(schema, _pattern_place(schema, error.pattern), str(error), "pattern") from None
    except Unresolvable as error:
        raise _schema_fault(schema, "$", f"$ref {error.ref!r} does not resolve inside the schema", "$ref") from None
    except RecursionError:
        raise _schema_fault(schema, "$", "the schema recurses too deeply on this input", "depth") from None
    except LIBRARY_FAULTS as error:
        raise _schema_fault(schema, "$", f"the schema cannot be evaluated ({type(error).__name__}: {error})",
                            "schema") from None
    if not failures:
        return
    errors = [
        {"path": error.json_path, "message": error.message, "validator": str(error.validator)}
        for error in failures[:MAX_REPORTED_ERRORS]
    ]
    first = failures[0]
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    raise ProblemError(
        422,
        "input-validation-failed",
        f"input at {first.json_path}: {first.message}{more}",
        errors=errors,
    )


async def validate_input_off_loop(settings: Any, schema: dict[str, Any] | None, value: Any) -> None:
    if schema is None:
        return
    await off_loop(
        validate_input,
        schema,
        value,
        pattern_timeout=settings.PATTERN_TIMEOUT_SECONDS,
        total_timeout=settings.VALIDATION_TIMEOUT_SECONDS,
    )


async def check_json_schema_off_loop(schema: Any, field: str) -> None:
    if schema is None:
        return
    await off_loop(check_json_schema, schema, field)
