"""How Cy values are turned into text.

``to_text`` is the conversion used by ``str()``, ``log()``, string natives and plain
interpolation; ``format_value`` applies an interpolation mode (``markdown``, ``csv``,
``xml``, ``json`` or anything else); ``to_json_text`` is the JSON form used for run
output and the ``json`` mode.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from .errors import CyError, ValueNotSerializable
from .values import ensure_small, ensure_small_json

__all__ = ["to_text", "format_value", "to_json_text", "escape_xml", "python_type_name", "json_unsupported"]


def python_type_name(value: Any) -> str:
    """The type name error messages show: ``NoneType``, ``int``, ``str``...

    A Cy error object reports its Cy class (``RuntimeError``), as it does in the reference.
    """
    if isinstance(value, CyError):
        return value.type
    return type(value).__name__


def json_unsupported(value: Any) -> Any:
    """``default`` hook for ``json.dumps``: the standard refusal, naming Cy error classes."""
    raise TypeError(f"Object of type {python_type_name(value)} is not JSON serializable")


def to_text(value: Any) -> str:
    """Python ``str()``: ``None``, ``True``, ``1.0``, ``1e-05``, ``[1, 'a']``, ``{'a': None}``.

    A list or dict whose text would pass the build limit is refused before it is built."""
    kind = type(value)
    if kind is str:
        return value
    if kind is list or kind is dict:
        ensure_small(value, "the text of this value")
    return str(value)


def to_json_text(value: Any, indent: int | None = None) -> str:
    """``json.dumps`` with Python defaults; ``TypeError`` for values JSON cannot hold,
    ``ValueError`` for cycles, ``ValueTooLarge`` when the text would pass the build limit."""
    kind = type(value)
    if kind is list or kind is dict:
        ensure_small_json(value, indent)
    return json.dumps(value, indent=indent, default=json_unsupported)


def escape_xml(value: Any) -> str:
    """The text of ``value`` with ``&``, ``<`` and ``>`` escaped (quotes are left alone)."""
    return to_text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_STRUCTURED_MODES = frozenset({"markdown", "csv", "xml"})


def format_value(value: Any, mode: str, item_tag: str = "item") -> str:
    """Render ``value`` for interpolation in ``mode``."""
    if mode == "json":
        return to_json_text(value)
    if value is None:
        return "null"
    if (isinstance(value, list) or isinstance(value, dict)) and mode in _STRUCTURED_MODES:
        if ensure_small(value, f"the {mode} text of this value"):
            raise ValueNotSerializable(f"Cannot format a value that contains itself as {mode}")
    if isinstance(value, list):
        if not value:
            return "[]"
        if mode == "markdown":
            return _markdown_list(value)
        if mode == "csv":
            return _csv_list(value)
        if mode == "xml":
            return _xml_list(value, item_tag)
        return to_text(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        if mode == "markdown":
            return _markdown_dict(value, 0)
        if mode == "csv":
            return _csv_dict(value)
        if mode == "xml":
            return _xml_dict(value, item_tag)
        return to_text(value)
    return to_text(value)


# -- markdown ---------------------------------------------------------------------------


def _markdown_list(items: list[Any]) -> str:
    lines = []
    for item in items:
        if isinstance(item, dict):
            lines.append("- " + _markdown_dict(item, 2))
        elif isinstance(item, list):
            lines.append("- " + _markdown_list(item).replace("\n", "\n  "))
        else:
            lines.append("- " + to_text(item))
    return "\n".join(lines)


def _markdown_dict(data: dict[Any, Any], indent: int) -> str:
    pad = " " * indent
    lines = []
    for key, value in data.items():
        label = f"{pad}**{to_text(key)}**:"
        if isinstance(value, dict):
            lines.append(label)
            lines.append(_markdown_dict(value, indent + 2))
        elif isinstance(value, list):
            lines.append(label)
            for item in value:
                if isinstance(item, dict):
                    lines.append(f"{pad}  - " + _markdown_dict(item, indent + 4))
                else:
                    lines.append(f"{pad}  - " + to_text(item))
        else:
            lines.append(f"{label} {to_text(value)}")
    return "\n".join(lines)


# -- csv --------------------------------------------------------------------------------


def _csv_text(rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows(rows)
    return buffer.getvalue().strip()


def _csv_list(items: list[Any]) -> str:
    if isinstance(items[0], dict):
        columns: set[Any] = set()
        for item in items:
            if isinstance(item, dict):
                columns.update(item.keys())
        header = sorted(columns)
        rows: list[list[Any]] = [list(header)]
        for item in items:
            if isinstance(item, dict):
                rows.append([item.get(column, "") for column in header])
        return _csv_text(rows)
    return _csv_text([list(items)])


def _csv_dict(data: dict[Any, Any]) -> str:
    header = sorted(data.keys())
    return _csv_text([list(header), [data[key] for key in header]])


# -- xml --------------------------------------------------------------------------------


def _xml_element(tag: Any, value: Any, item_tag: str) -> str:
    if isinstance(value, dict):
        inner = _xml_dict(value, item_tag)
    elif isinstance(value, list):
        inner = _xml_list(value, item_tag)
    else:
        inner = escape_xml(value)
    return f"  <{tag}>{inner}</{tag}>"


def _xml_list(items: list[Any], item_tag: str) -> str:
    return "\n".join(_xml_element(item_tag, item, item_tag) for item in items)


def _xml_dict(data: dict[Any, Any], item_tag: str) -> str:
    return "\n".join(_xml_element(to_text(key), value, item_tag) for key, value in data.items())
