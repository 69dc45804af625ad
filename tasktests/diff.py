"""A structured difference between two JSON values: where they differ, and how.

Each difference is ``{"path", "kind", "expected"?, "actual"?}`` with ``kind`` one of
``changed`` (both sides have a value there), ``missing`` (only the expected side has it) and
``unexpected`` (only the actual side has it). Paths are JSON paths (``$.items[3].name``,
``$['odd key']``). Numbers compare as JSON numbers (``1`` equals ``1.0``), but a boolean is
never equal to a number. Values are plain JSON data (no cycles).
"""

from __future__ import annotations

import re
from typing import Any

MAX_DIFFERENCES = 100
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def child_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}"
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"{path}['{escaped}']"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def json_diff(expected: Any, actual: Any, *, limit: int = MAX_DIFFERENCES) -> list[dict[str, Any]]:
    """The differences from ``expected`` to ``actual``, at most ``limit`` of them (in document
    order of the expected value); empty when they are equal."""
    found: list[dict[str, Any]] = []
    stack: list[tuple[str, Any, Any]] = [("$", expected, actual)]
    while stack and len(found) < limit:
        path, want, got = stack.pop()
        kind = _kind(want)
        if want is _ABSENT:
            found.append({"path": path, "kind": "unexpected", "actual": got})
        elif got is _ABSENT:
            found.append({"path": path, "kind": "missing", "expected": want})
        elif kind != _kind(got):
            found.append({"path": path, "kind": "changed", "expected": want, "actual": got})
        elif kind == "object":
            pending = []
            for key in want:
                if key in got:
                    pending.append((child_path(path, key), want[key], got[key]))
                else:
                    pending.append((child_path(path, key), want[key], _ABSENT))
            pending.extend((child_path(path, key), _ABSENT, got[key]) for key in got if key not in want)
            stack.extend(reversed(pending))
        elif kind == "array":
            pending = [
                (child_path(path, index), want[index] if index < len(want) else _ABSENT, got[index] if index < len(got) else _ABSENT)
                for index in range(max(len(want), len(got)))
            ]
            stack.extend(reversed(pending))
        elif want != got:
            found.append({"path": path, "kind": "changed", "expected": want, "actual": got})
    return found


class _Absent:
    """Stands for the side of a difference that has no value at that path."""

    def __repr__(self) -> str:
        return "<absent>"


_ABSENT = _Absent()


def same_json(left: Any, right: Any) -> bool:
    return not json_diff(left, right, limit=1)
