"""JSON Schema checks: task schemas must be valid schemas, run inputs must match them."""

from __future__ import annotations

from functools import lru_cache
import json
from typing import Any

from jsonschema import exceptions as jsonschema_exceptions
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from .problems import ProblemError

MAX_REPORTED_ERRORS = 20


def check_json_schema(schema: Any, field: str) -> None:
    """422 unless ``schema`` is a valid JSON Schema (by the metaschema it declares, default 2020-12)."""
    if schema is None:
        return
    if not isinstance(schema, (dict, bool)):
        raise ProblemError(
            422,
            f"invalid-{field.replace('_', '-')}",
            f"{field} must be a JSON Schema object",
            errors=[{"field": field, "in": "body", "path": "$", "message": "must be an object"}],
        )
    cls = validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema_exceptions.SchemaError as error:
        raise ProblemError(
            422,
            f"invalid-{field.replace('_', '-')}",
            f"{field} is not a valid JSON Schema: {error.message} (at {error.json_path})",
            errors=[
                {
                    "field": field,
                    "in": "body",
                    "path": error.json_path,
                    "message": error.message,
                    "validator": str(error.validator),
                }
            ],
        ) from error


@lru_cache(maxsize=512)
def _validator(schema_json: str) -> Validator:
    schema = json.loads(schema_json)
    cls = validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def validate_input(schema: dict[str, Any] | None, value: Any) -> None:
    """422 naming every failing JSON path when ``value`` does not match ``schema``."""
    if schema is None:
        return
    validator = _validator(json.dumps(schema, sort_keys=True))
    failures = sorted(validator.iter_errors(value), key=lambda e: (list(map(str, e.absolute_path)), e.message))
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
