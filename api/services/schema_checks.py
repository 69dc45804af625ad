"""JSON Schema checks answered as problems: task schemas must be valid schemas, run inputs must
match them. Inputs are checked by the `validation` package; a schema's own validity is checked
here against its metaschema, with the `validation` package's format checker and patterns.

Patterns are matched by `regex` with a time limit (see `validation.patterns`); `$ref`s resolve
only inside the schema (nothing is fetched); callers run these functions off the event loop.
"""

from __future__ import annotations

from typing import Any

from jsonschema import exceptions as jsonschema_exceptions
from jsonschema.validators import validator_for

from validation import SchemaFault, failures_of, json_path, patterns_of
from validation import patterns
from settings import Settings
from validation.json_schema import LIBRARY_FAULTS, format_checker

from ..offload import off_loop
from ..problems import ProblemError

MAX_REPORTED_ERRORS = 20
MAX_MESSAGE_CHARS = 300
"""A validator's message quotes the offending value; a problem keeps this much of it (and of a path)."""


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def _slug(field: str) -> str:
    return f"invalid-{field.replace('_', '-')}"


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
        cls.check_schema(schema, format_checker=format_checker(cls))
    except jsonschema_exceptions.SchemaError as error:
        raise _schema_problem(field, error.json_path, error.message, str(error.validator)) from error
    except RecursionError:
        raise _schema_problem(field, "$", "the schema nests too deeply to check", "depth") from None
    except LIBRARY_FAULTS as error:  # jsonschema tripping over a value its metaschema let through
        raise _schema_problem(field, "$", f"the schema cannot be used ({type(error).__name__}: {error})", "schema") from None
    for pattern, where in patterns_of(schema):
        try:
            patterns.check_pattern(pattern)
        except patterns.PatternInvalid as error:
            raise _schema_problem(field, json_path(where), str(error), "pattern") from None


def validate_input(
    schema: dict[str, Any] | None,
    value: Any,
    *,
    pattern_timeout: float = patterns.DEFAULT_TIMEOUT_SECONDS,
    total_timeout: float = 5.0,
) -> None:
    """422 naming every failing JSON path when ``value`` does not match ``schema``, or naming the
    place in the schema that could not be evaluated (a pattern too slow, a `$ref` that does not
    resolve, recursion too deep). Blocking: call it off the event loop."""
    if schema is None:
        return
    try:
        failures = failures_of(schema, value, pattern_timeout=pattern_timeout, total_timeout=total_timeout)
    except SchemaFault as fault:
        raise ProblemError(
            422,
            "input-validation-failed",
            f"input could not be checked: input_schema at {fault.schema_path}: {fault.message}",
            errors=[
                {
                    "field": "input_schema",
                    "schema_path": fault.schema_path,
                    "path": "$",
                    "message": fault.message,
                    "validator": fault.validator,
                }
            ],
        ) from None
    if not failures:
        return
    errors = [
        {"path": _bounded(failure.path), "message": _bounded(failure.message), "validator": failure.validator}
        for failure in failures[:MAX_REPORTED_ERRORS]
    ]
    first = errors[0]
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    raise ProblemError(
        422,
        "input-validation-failed",
        f"input at {first['path']}: {first['message']}{more}",
        errors=errors,
    )


async def validate_input_off_loop(settings: Settings, schema: dict[str, Any] | None, value: Any) -> None:
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
