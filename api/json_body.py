"""Strict JSON for request bodies: only what every JSON parser and Postgres `jsonb` accept.

Python's `json` module takes `NaN`, `Infinity`, numbers that overflow to infinity, lone
surrogates and U+0000, and nests as deep as its recursion limit; each of those later fails
somewhere else (storage, Temporal payloads, response serialization). Here they are refused
up front, each with the place in the body where it was found.
"""

from __future__ import annotations

import email.message
import json
import math
import re
from typing import Any

MAX_INT_DIGITS = 4000  # below Python's int-from-string limit (4300 digits)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def is_json_content_type(content_type: str | None) -> bool:
    """Whether a Content-Type names JSON (``application/json``, ``application/*+json``); no header counts as JSON."""
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


class JSONBodyRejected(ValueError):
    """The body is not strict JSON. ``field`` is the dotted place in the body ('' for the body itself)."""

    def __init__(self, field: str, message: str, kind: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.kind = kind


class _Refused:
    """Stands in for a value the parser must not produce, so the walk can say where it was."""

    def __init__(self, message: str, kind: str) -> None:
        self.message = message
        self.kind = kind


def _constant(name: str) -> _Refused:
    return _Refused(f"{name} is not a JSON number", "json_not_finite")


def _integer(text: str) -> int | _Refused:
    if len(text) > MAX_INT_DIGITS:
        return _Refused(f"an integer of {len(text)} digits is too long", "json_number_too_long")
    return int(text)


def _child(field: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{field}[{key}]"
    if _IDENTIFIER.fullmatch(key):
        return f"{field}.{key}" if field else key
    return f"{field}[{json.dumps(key)}]"


def _text_problem(value: str) -> str | None:
    if "\x00" in value:
        return "U+0000 (NUL) is not allowed in a string"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            return f"lone surrogate U+{ord(value[error.start]):04X} is not a Unicode character"
    return None


def parse_strict(body: bytes, max_depth: int) -> Any:
    """The JSON value of ``body``; raises JSONBodyRejected naming where it is not strict JSON
    (or, with the field '', that it is not JSON at all)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise JSONBodyRejected("", f"the body is not UTF-8 (byte {error.start})", "json_invalid") from None
    try:
        value = json.loads(text, parse_constant=_constant, parse_int=_integer)
    except RecursionError:
        raise JSONBodyRejected(
            "", f"the body nests arrays and objects deeper than {max_depth} levels", "json_too_deep"
        ) from None
    except json.JSONDecodeError as error:
        raise JSONBodyRejected(
            "", f"JSON decode error: {error.msg} (line {error.lineno}, column {error.colno})", "json_invalid"
        ) from None
    check_value(value, max_depth)
    return value


def check_value(value: Any, max_depth: int) -> None:
    """Raise JSONBodyRejected at the first refused value (depth counts arrays and objects)."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, field, depth = stack.pop()
        if isinstance(item, str):
            problem = _text_problem(item)
            if problem:
                raise JSONBodyRejected(field, problem, "json_invalid_string")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise JSONBodyRejected(field, "the number is too large for a double (it overflows to infinity)",
                                       "json_not_finite")
        elif isinstance(item, _Refused):
            raise JSONBodyRejected(field, item.message, item.kind)
        elif isinstance(item, (dict, list)):
            if depth + 1 > max_depth:
                raise JSONBodyRejected(
                    field, f"arrays and objects nest deeper than {max_depth} levels here", "json_too_deep"
                )
            if isinstance(item, dict):
                for key in item:
                    problem = _text_problem(key)
                    if problem:
                        raise JSONBodyRejected(field, f"a key: {problem}", "json_invalid_string")
                # Pushed in reverse so the first refused value in document order is reported.
                stack.extend((item[key], _child(field, key), depth + 1) for key in reversed(list(item)))
            else:
                stack.extend((item[i], _child(field, i), depth + 1) for i in range(len(item) - 1, -1, -1))
