"""`cytasks run`, `cytasks exec` and `cytasks runs ...`: start runs and follow them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

import typer

from taskrun.contract import TERMINAL_RUN_STATUSES

from .client import CytasksClient
from .output import (
    api_call,
    client,
    console,
    err_console,
    fail,
    format_time,
    human_duration,
    parse_json_arg,
    print_json,
    print_run_error,
    short_time,
    styled_status,
    table,
)

TERMINAL = frozenset(TERMINAL_RUN_STATUSES)
POLL_SECONDS = 0.3

runs_app = typer.Typer(name="runs", help="Inspect and cancel task runs.", no_args_is_help=True)
app = runs_app
"""The `runs` command group."""


def register_commands(root: typer.Typer) -> None:
    """Add the top-level `run` and `exec` commands to the root CLI."""
    root.command("run")(run_task)
    root.command("exec")(exec_script)


InputOpt = typer.Option(None, "--input", "-i", help="Run input: JSON text, @file.json or @- for stdin")
WaitOpt = typer.Option(False, "--wait", "-w", help="Follow the run until it finishes and print its output")
KeyOpt = typer.Option(None, "--idempotency-key", help="Retrying with the same key returns the same run")
JsonOpt = typer.Option(False, "--json", help="Print the raw JSON run resource")


def wait_for_run(api: CytasksClient, run: dict[str, Any], poll_seconds: float = POLL_SECONDS) -> dict[str, Any]:
    """Poll the run with a live spinner until it reaches a terminal status."""
    from .question_commands import describe_question, pending_question

    run_id = run["id"]
    started = time.monotonic()
    shown: set[str] = set()
    try:
        with err_console.status(f"run {run_id}: {styled_status(run['status'])}", spinner="dots") as spinner:
            while run["status"] not in TERMINAL:
                time.sleep(poll_seconds)
                run = api.get_run(run_id)
                elapsed = time.monotonic() - started
                waiting = ""
                if run["status"] == "paused":
                    question = pending_question(api, run_id)
                    if question is not None:
                        waiting = " waiting for an answer"
                        if question["id"] not in shown:
                            shown.add(question["id"])
                            err_console.print(f"run {run_id} is waiting for an answer:", highlight=False)
                            err_console.print(describe_question(question), highlight=False)
                spinner.update(
                    f"run {run_id}: {styled_status(run['status'])}{waiting} [dim]{human_duration(elapsed * 1000)}[/]"
                )
    except KeyboardInterrupt:
        err_console.print(
            f"Stopped following run {run_id}; it goes on on the server "
            f"(cytasks runs show {run_id}, cytasks runs cancel {run_id})",
            highlight=False,
        )
        raise typer.Exit(130) from None
    return run


def finish(run: dict[str, Any], *, as_json: bool) -> None:
    """Print the finished run's output (or error) and exit 0 on completed, 1 otherwise."""
    status = run["status"]
    if as_json:
        print_json(run)
    elif status == "completed":
        print_json(run.get("output"))
    if status == "completed":
        if not as_json:
            duration = f" in {human_duration(run['duration_ms'])}" if run.get("duration_ms") is not None else ""
            err_console.print(f"[green]completed[/]{duration} [dim]run {run['id']}[/]", highlight=False)
        raise typer.Exit(0)
    err_console.print(f"run {run['id']} {styled_status(status)}", highlight=False)
    if run.get("error"):
        print_run_error(run["error"])
    raise typer.Exit(1)


def _started(api: CytasksClient, run: dict[str, Any], *, wait: bool, as_json: bool) -> None:
    if wait:
        finish(wait_for_run(api, run), as_json=as_json)
    if as_json:
        print_json(run)
        return
    console.print(f"Run [bold]{run['id']}[/] {styled_status(run['status'])}", highlight=False)
    console.print(f"[dim]follow it with: cytasks runs show {run['id']}[/]", highlight=False)


def run_task(
    task: str = typer.Argument(..., help="Task id or cy_name"),
    input: Optional[str] = InputOpt,
    wait: bool = WaitOpt,
    idempotency_key: Optional[str] = KeyOpt,
    version: Optional[int] = typer.Option(None, "--version", "-v", min=1, help="Run this version (default: the current one)"),
    as_json: bool = JsonOpt,
) -> None:
    """Run a saved task."""
    value = parse_json_arg(input)
    with api_call(), client() as api:
        run = api.execute_task(task, value, idempotency_key=idempotency_key, version=version)
        _started(api, run, wait=wait, as_json=as_json)


def exec_script(
    file: Path = typer.Argument(..., metavar="FILE.cy", help="Cy source file to run ad hoc ('-' for stdin)"),
    input: Optional[str] = InputOpt,
    wait: bool = WaitOpt,
    idempotency_key: Optional[str] = KeyOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Run a Cy script ad hoc on the server."""
    if str(file) == "-":
        import sys

        script = sys.stdin.read()
    elif file.is_file():
        script = file.read_text()
    else:
        fail(f"file not found: {file}")
    value = parse_json_arg(input)
    with api_call(), client() as api:
        run = api.execute_script(script, value, idempotency_key=idempotency_key)
        _started(api, run, wait=wait, as_json=as_json)


@runs_app.command("list")
def list_runs(
    task: Optional[str] = typer.Option(None, "--task", "-t", help="Task id or cy_name"),
    status: Optional[str] = typer.Option(None, "--status"),
    trigger: Optional[str] = typer.Option(None, "--trigger"),
    since: Optional[str] = typer.Option(None, "--since", help="Created at or after (ISO 8601)"),
    until: Optional[str] = typer.Option(None, "--until", help="Created before (ISO 8601)"),
    limit: int = typer.Option(20, "--limit", "-n", min=1),
    as_json: bool = JsonOpt,
) -> None:
    """List runs, newest first."""
    filters = {
        "task": task,
        "status": status,
        "trigger": trigger,
        "created_after": since,
        "created_before": until,
    }
    with api_call(), client() as api:
        runs = list(api.iter_runs(limit=limit, **filters))
        if as_json:
            print_json(runs)
            return
        names = TaskNames(api)
        rows = [
            {
                "id": run["id"],
                "status": styled_status(run.get("status")),
                "task": names.label(run),
                "created": short_time(run.get("created_at")),
                "duration": human_duration(run.get("duration_ms")),
                "trigger": run.get("trigger") or "",
            }
            for run in runs
        ]
    columns = fit_columns(rows, ("id", "status", "task", "created"), ("duration", "trigger"), console.width)
    out = table(*columns, wrap=("task",))
    for row in rows:
        out.add_row(*(row[column] for column in columns))
    console.print(out)
    if not runs:
        console.print("[dim]No runs.[/]")


class TaskNames:
    """cy_name of each task id, one request per distinct task, so a page of runs reads by name."""

    def __init__(self, api: CytasksClient) -> None:
        self._api = api
        self._names: dict[str, str] = {}

    def name(self, task_id: str) -> str:
        if task_id not in self._names:
            from .client import ApiError

            try:
                self._names[task_id] = self._api.get_task(task_id).get("cy_name") or task_id
            except ApiError:
                self._names[task_id] = task_id
        return self._names[task_id]

    def label(self, run: dict[str, Any]) -> str:
        if not run.get("task_id"):
            return "ad hoc"
        version = f" v{run['task_version']}" if run.get("task_version") is not None else ""
        return f"{self.name(run['task_id'])}{version}"


def fit_columns(
    rows: list[dict[str, str]], required: tuple[str, ...], optional: tuple[str, ...], width: int
) -> list[str]:
    """The required columns, then each optional one that still fits in ``width`` with room for the
    folding task column to show at least 10 characters (columns are 2 apart)."""
    from rich.text import Text

    def widest(column: str) -> int:
        header = len(column) + (6 if column in ("created",) else 0)
        return max([header, *(Text.from_markup(row[column]).cell_len for row in rows)])

    chosen = list(required)
    used = sum(widest(c) for c in chosen if c != "task") + 2 * (len(chosen) - 1) + 10
    for column in optional:
        extra = widest(column) + 2
        if used + extra <= width:
            chosen.append(column)
            used += extra
    return chosen


@runs_app.command("show")
def show_run(
    run_id: str = typer.Argument(..., help="Run id"),
    wait: bool = WaitOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Show a run (its status, input, output and error)."""
    with api_call(), client() as api:
        run = api.get_run(run_id)
        if wait:
            finish(wait_for_run(api, run), as_json=as_json)
        if as_json:
            print_json(run)
            return
        task_label = TaskNames(api).label(run)
    lines = [
        f"[bold]run {run['id']}[/]  {styled_status(run['status'])}",
        f"task: {task_label}  trigger: {run.get('trigger')}",
        f"created:   {format_time(run.get('created_at'))}",
    ]
    for label, key in (("started:  ", "started_at"), ("completed:", "completed_at")):
        if run.get(key):
            lines.append(f"{label} {format_time(run.get(key))}")
    if run.get("duration_ms") is not None:
        lines.append(f"duration:  {human_duration(run['duration_ms'])}")
    if run.get("workflow_id"):
        lines.append(f"workflow: {run['workflow_id']}")
    lines.append(f"logs: {run.get('logs_count', 0)}")
    console.print("\n".join(lines), highlight=False)
    console.print("[bold]input[/]")
    console.print_json(data=run.get("input"))
    if run.get("output") is not None:
        console.print("[bold]output[/]")
        console.print_json(data=run.get("output"))
    if run.get("error"):
        print_run_error(run["error"])
    if run.get("llm_usage"):
        console.print("[bold]llm usage[/]")
        console.print_json(data=run["llm_usage"])


@runs_app.command("logs")
def run_logs(
    run_id: str = typer.Argument(..., help="Run id"),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines until the run ends"),
    as_json: bool = JsonOpt,
) -> None:
    """Print a run's log lines (with --follow, as they arrive)."""
    with api_call(), client() as api:
        items = api.run_logs(run_id).get("items", [])
        if as_json and not follow:
            print_json(items)
            return
        _print_log_lines(items, as_json)
        last = items[-1]["seq"] if items else 0
        while follow:
            run = api.request("GET", f"/v1/task-runs/{run_id}", params={"wait": FOLLOW_POLL_SECONDS})
            fresh = api.request("GET", f"/v1/task-runs/{run_id}/logs", params={"after_seq": last}).get("items", [])
            _print_log_lines(fresh, as_json)
            if fresh:
                last = fresh[-1]["seq"]
            if run["status"] in TERMINAL:
                err_console.print(f"[dim]run {run_id} {run['status']}[/]", highlight=False)
                return
    if not items and not follow:
        err_console.print("[dim]No log lines.[/]")


FOLLOW_POLL_SECONDS = 1


def _print_log_lines(items: list[dict[str, Any]], as_json: bool) -> None:
    for item in items:
        if as_json:
            print_json(item)
            continue
        stamp = format_time(item.get("created_at"))
        prefix = f"[dim]{stamp}[/] " if stamp else ""
        console.print(prefix, end="", highlight=False)
        console.print(str(item.get("message", "")), markup=False, highlight=False)


@runs_app.command("cancel")
def cancel_run(
    run_id: str = typer.Argument(..., help="Run id"),
    wait: bool = WaitOpt,
) -> None:
    """Cancel a running run."""
    with api_call(), client() as api:
        run = api.cancel_run(run_id)
        console.print(f"Cancellation requested for run [bold]{run['id']}[/]", highlight=False)
        if wait:
            run = wait_for_run(api, run)
            console.print(f"run {run['id']} {styled_status(run['status'])}", highlight=False)
