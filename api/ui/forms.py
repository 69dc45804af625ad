"""Forms the console generates: fields from a JSON Schema (a task's input_schema, a question's
form) and the answers a question allows; and turning submitted fields back into JSON.

Only an object schema whose properties are strings, integers, numbers, booleans or enums gets
fields; anything else is entered as raw JSON. Whatever is built here is checked afterwards by
the same services as the HTTP API (schema validation, answer checks)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

SIMPLE_TYPES = ("string", "integer", "number", "boolean")
FIELD_PREFIX = "field."


@dataclass
class Field:
    name: str
    kind: str  # string, integer, number, boolean, enum
    required: bool
    title: str
    description: str | None = None
    choices: list[Any] = field(default_factory=list)
    value: Any = None

    @property
    def input_name(self) -> str:
        return FIELD_PREFIX + self.name

    @property
    def shown_value(self) -> str:
        if self.value is None:
            return ""
        if self.kind == "enum":
            return json.dumps(self.value)
        return str(self.value)


def _kind(schema: dict[str, Any]) -> str | None:
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return "enum"
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else None
    return kind if kind in SIMPLE_TYPES else None


def fields_of(schema: Any, sample: Any = None) -> list[Field] | None:
    """The fields of an object schema of simple properties (prefilled from ``sample``), or None
    when the schema needs raw JSON."""
    if not isinstance(schema, dict) or schema.get("type") not in ("object", None):
        return None
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        return None
    required = set(schema.get("required") or [])
    values = sample if isinstance(sample, dict) else {}
    found = []
    for name, prop in properties.items():
        if not isinstance(prop, dict):
            return None
        kind = _kind(prop)
        if kind is None:
            return None
        found.append(
            Field(
                name=name,
                kind=kind,
                required=name in required,
                title=str(prop.get("title") or name),
                description=prop.get("description"),
                choices=list(prop.get("enum") or []),
                value=values.get(name, prop.get("default")),
            )
        )
    return found


class FieldError(ValueError):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


def value_from_fields(fields: list[Field], form: dict[str, str]) -> dict[str, Any]:
    """The JSON object the submitted fields make; empty optional fields are left out."""
    out: dict[str, Any] = {}
    for item in fields:
        raw = form.get(item.input_name)
        if item.kind == "boolean":
            out[item.name] = raw is not None and raw not in ("", "false", "off")
            continue
        if raw is None or raw == "":
            if item.required:
                raise FieldError(item.name, "is required")
            continue
        if item.kind == "string":
            out[item.name] = raw
        elif item.kind == "integer":
            try:
                out[item.name] = int(raw)
            except ValueError:
                raise FieldError(item.name, f"must be an integer, got {raw!r}") from None
        elif item.kind == "number":
            try:
                number = float(raw)
            except ValueError:
                raise FieldError(item.name, f"must be a number, got {raw!r}") from None
            out[item.name] = int(number) if number.is_integer() and "." not in raw else number
        else:  # enum: the option's JSON
            try:
                out[item.name] = json.loads(raw)
            except ValueError:
                raise FieldError(item.name, "is not one of the choices") from None
    return out


def parse_json(raw: str | None, name: str) -> Any:
    if raw is None or not raw.strip():
        raise FieldError(name, "enter a JSON value")
    try:
        return json.loads(raw)
    except ValueError as error:
        raise FieldError(name, f"is not valid JSON: {error}") from None


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)
