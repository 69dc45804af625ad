"""Shared helpers of the task and run commands: argument parsing and Rich rendering."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
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


def table(*columns: str, title: str | None = None, wrap: tuple[str, ...] = ()) -> Table:
    """A table whose columns stay on one line, except those named in ``wrap``."""
    result = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        if column in wrap:
            result.add_column(column, overflow="fold", min_width=12)
        else:
            result.add_column(column, no_wrap=True)
    return result


def short_time(value: str | None) -> str:
    if not value:
        return ""
    return value.replace("T", " ")[:19]
