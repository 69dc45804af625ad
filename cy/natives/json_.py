"""JSON natives: ``from_json`` / ``json::parse`` and ``to_json`` / ``json::stringify``."""

import json
from typing import Any

from ..formatting import to_json_text
from .spec import Native


def from_json(json_str: str) -> Any:
    if not isinstance(json_str, str):
        raise ValueError("from_json() requires a string argument")
    if not json_str.strip():
        return {}
    try:
        return json.loads(json_str)
    except json.JSONDecodeError as exc:
        raise ValueError(f"Invalid JSON: {exc}") from None


def to_json(data: Any, indent: int | None = None) -> str:
    try:
        return to_json_text(data, indent)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Cannot convert to JSON: {exc}") from None


NATIVES = [
    Native(("from_json", "json::parse"), from_json, "Parse JSON text into a value (blank text gives {})", work_shift=2),
    Native(("to_json", "json::stringify"), to_json, "Serialise a value as JSON text, optionally indented", work_shift=0),
]
