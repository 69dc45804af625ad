"""Shared helpers of the task and run commands: argument parsing and Rich rendering."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console
from rich import box
from rich.table import Table

from .client import ApiError, ConnectionFailed, CytasksClient

console = Console()
err_console = Console(stderr=True)


def client() -> CytasksClient:
    return CytasksClient()


def read_text_arg(value: str) -> str:
    """``-`` reads standard input, anything else is a file path."""
    if value == "-":
        return sys.stdin.read()
    path = Path(value)
    if not path.is_file():
        fail(f"file not found: {value}")
    return path.read_text()


def parse_json_arg(value: str | None, what: str = "input") -> Any:
    """``JSON`` text, ``@file.json`` or ``@-`` (standard input)."""
    if value is None:
        return None
    text = value
    if value.startswith("@"):
        text = read_text_arg(value[1:])
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{what} is not valid JSON: {exc}")


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]Error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def format_field_error(error: dict[str, Any]) -> str:
    where = []
    if error.get("line"):
        where.append(f"line {error['line']}, column {error.get('column') or 0}")
    if error.get("field"):
        location = error.get("in")
        where.append(f"{location} {error['field']}" if location and location != "body" else str(error["field"]))
    if error.get("path"):
        where.append(str(error["path"]))
    kind = f"{error['type']}: " if error.get("type") and error.get("line") is not None else ""
    prefix = f"{' '.join(where)}: " if where else ""
    return f"{prefix}{kind}{error.get('message', '')}"


def print_api_error(exc: ApiError) -> None:
    err_console.print(f"[bold red]Error:[/] {exc.title} [dim](HTTP {exc.status})[/]", highlight=False)
    if exc.detail:
        err_console.print(f"  {exc.detail}", highlight=False, markup=False)
    for error in exc.errors:
        err_console.print(f"  - {format_field_error(error)}", highlight=False, markup=False)


def print_run_error(error: dict[str, Any]) -> None:
    where = f" at line {error['line']}, column {error.get('column') or 0}" if error.get("line") else ""
    err_console.print(f"[bold red]{error.get('type', 'Error')}[/]{where}: ", end="", highlight=False)
    err_console.print(str(error.get("message", "")), highlight=False, markup=False)


def print_json(value: Any) -> None:
    """Plain JSON on standard output, so it can be piped."""
    if console.is_terminal:
        console.print_json(json.dumps(value, default=str))
    else:
        sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")
        sys.stdout.flush()


class api_call:
    """``with api_call(): ...`` turns API and connection errors into a readable message and exit 1."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        if isinstance(exc, ApiError):
            print_api_error(exc)
            raise typer.Exit(1)
        if isinstance(exc, ConnectionFailed):
            fail(str(exc))
        return False


STATUS_STYLES = {
    "pending": "yellow",
    "running": "cyan",
    "paused": "magenta",
    "completed": "green",
    "failed": "red",
    "cancelled": "dim",
    "timed_out": "red",
    "enabled": "green",
    "disabled": "yellow",
    "archived": "dim",
}


def styled_status(status: str | None) -> str:
    status = status or "?"
    style = STATUS_STYLES.get(status)
    return f"[{style}]{status}[/]" if style else status


TIME_COLUMNS = frozenset(
    {"at", "created", "updated", "asked", "answered", "expires", "scheduled", "started", "completed", "next"}
)
"""Columns holding times: their header says the zone ("created (UTC)"), their cells use `short_time`."""


def table(*columns: str, title: str | None = None, wrap: tuple[str, ...] = (), zone: str = "UTC") -> Table:
    """The one table style of the CLI: bold headers, no box, time columns labelled with their zone.

    Columns stay on one line, except those named in ``wrap``, which fold."""
    result = Table(
        title=title,
        show_lines=False,
        header_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
    )
    for column in columns:
        header = f"{column} ({zone})" if column in TIME_COLUMNS else column
        if column in wrap:
            result.add_column(header, overflow="fold", min_width=8)
        else:
            result.add_column(header, no_wrap=True)
    return result


TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _zone(tz: str | None):
    if not tz or tz == "UTC":
        return UTC
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def format_time(value: str | None, tz: str | None = None) -> str:
    """``2026-12-01 23:44:25 UTC``, or in ``tz`` with its abbreviation (``2026-12-02 07:00:00 CET``)."""
    if not value:
        return ""
    parsed = _parse_time(value)
    if parsed is None:
        return value
    zone = _zone(tz)
    local = parsed.astimezone(zone)
    label = "UTC" if zone is UTC else local.strftime("%Z")
    return f"{local.strftime(TIME_FORMAT)} {label}"


def short_time(value: str | None, tz: str | None = None) -> str:
    """A time for a table cell: the format of `format_time` without the zone, which the header names."""
    if not value:
        return ""
    parsed = _parse_time(value)
    if parsed is None:
        return value
    return parsed.astimezone(_zone(tz)).strftime(TIME_FORMAT)


def human_duration(ms: float | int | None) -> str:
    """``359 ms``, ``4.2 s``, ``42 s``, ``6 min 0 s``, ``1 h 2 min``, ``3 d 4 h``."""
    if ms is None:
        return ""
    ms = max(0, int(round(ms)))
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"
