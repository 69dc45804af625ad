"""`cytasks workflow ...`: create workflows from a file, run them, follow and list their runs, and
schedule them (`cytasks workflow schedule ...`, the options of `cytasks schedule ...`)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Optional

import typer
import yaml

from taskrun.contract import TERMINAL_RUN_STATUSES

from .client import CytasksClient
from .output import (
    api_call,
    client,
    console,
    err_console,
    fail,
    human_duration,
    parse_json_arg,
    print_json,
    print_run_error,
    short_time,
    styled_status,
    table,
)
from .question_commands import describe_question
from .schedule_commands import (
    CatchupOpt,
    CronOpt,
    EveryOpt,
    InputOpt,
    JitterOpt,
    NoteOpt,
    OffsetOpt,
    OverlapOpt,
    PausedOpt,
    TzOpt,
    overlap_policy,
    render as render_schedule,
    schedule_body,
)

app = typer.Typer(name="workflow", help="Compose tasks into workflows and run them.", no_args_is_help=True)
runs_app = typer.Typer(name="runs", help="Inspect and cancel workflow runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
schedule_app = typer.Typer(name="schedule", help="Run a workflow on a cron or interval schedule.", no_args_is_help=True)
app.add_typer(schedule_app, name="schedule")

POLL_SECONDS = 0.3
JsonOpt = typer.Option(False, "--json", help="Print the raw JSON resource")


def read_definition(path: str) -> dict[str, Any]:
    """A workflow definition from a YAML or JSON file (``-`` reads standard input)."""
    import sys

    text = sys.stdin.read() if path == "-" else None
    if text is None:
        file = Path(path)
        if not file.is_file():
            fail(f"file not found: {path}")
        text = file.read_text()
    try:
        definition = yaml.safe_load(text)
    except yaml.YAMLError as error:
        fail(f"{path} is not valid YAML or JSON: {error}")
    if not isinstance(definition, dict):
        fail(f"{path} must hold an object with name, nodes and edges")
    return definition


@app.command("create")
def create_workflow(
    file: str = typer.Argument(..., help="Definition file (.yaml, .yml or .json), or - for stdin"),
    as_json: bool = JsonOpt,
) -> None:
    """Create a workflow from a definition file."""
    with api_call(), client() as api:
        workflow = api.request("POST", "/v1/workflows", json=read_definition(file))
    if as_json:
        print_json(workflow)
        return
    console.print(f"Created workflow [bold]{workflow['name']}[/] v{workflow['version']} [dim]{workflow['id']}[/]")


@app.command("update")
def update_workflow(
    workflow: str = typer.Argument(..., help="Workflow name or id"),
    file: str = typer.Argument(..., help="Definition file (.yaml, .yml or .json), or - for stdin"),
) -> None:
    """Replace a workflow's definition (a new version)."""
    with api_call(), client() as api:
        updated = api.request("PATCH", f"/v1/workflows/{workflow}", json=read_definition(file))
    console.print(f"Workflow [bold]{updated['name']}[/] is at v{updated['version']}")


@app.command("list")
def list_workflows(limit: int = typer.Option(50, "--limit", "-n", min=1), as_json: bool = JsonOpt) -> None:
    """List workflows, newest first."""
    with api_call(), client() as api:
        page = api.request("GET", "/v1/workflows", params={"limit": limit})
    if as_json:
        print_json(page)
        return
    rows = table("name", "version", "status", "nodes", "created")
    for workflow in page["items"]:
        rows.add_row(
            workflow["name"],
            f"v{workflow['version']}",
            styled_status(workflow["status"]),
            str(len(workflow["nodes"])),
            short_time(workflow["created_at"]),
        )
    console.print(rows)


@app.command("show")
def show_workflow(workflow: str = typer.Argument(..., help="Workflow name or id"), as_json: bool = JsonOpt) -> None:
    """Show a workflow's definition."""
    with api_call(), client() as api:
        found = api.request("GET", f"/v1/workflows/{workflow}")
    if as_json:
        print_json(found)
        return
    console.print(f"[bold]{found['name']}[/] v{found['version']} {styled_status(found['status'])} [dim]{found['id']}[/]")
    if found.get("description"):
        console.print(found["description"])
    rows = table("node", "kind", "task", "after", "on error")
    for node in found["nodes"]:
        after = [edge["from"] for edge in found["edges"] if edge["to"] == node["id"]]
        task = node.get("task", "")
        if node.get("version"):
            task += f" v{node['version']}"
        rows.add_row(node["id"], node.get("kind", "task"), task, ", ".join(after), node.get("on_error", "fail"))
    console.print(rows)


def node_lines(run: dict[str, Any]) -> list[str]:
    lines = []
    for node in run.get("nodes", []):
        duration = f" {human_duration(node['duration_ms'])}" if node.get("duration_ms") is not None else ""
        lines.append(f"  {node['node_id']}: {styled_status(node['status'])}{duration}")
    return lines


def follow(api: CytasksClient, run: dict[str, Any]) -> dict[str, Any]:
    """Poll the workflow run until it ends, printing each node's status as it changes and the
    question of a paused node."""
    seen: dict[str, str] = {}
    asked: set[str] = set()
    started = time.monotonic()
    try:
        while True:
            for node in run.get("nodes", []):
                if seen.get(node["node_id"]) != node["status"]:
                    seen[node["node_id"]] = node["status"]
                    err_console.print(f"{node['node_id']}: {styled_status(node['status'])}", highlight=False)
                question = node.get("question")
                if question and question["id"] not in asked:
                    asked.add(question["id"])
                    err_console.print(f"node {node['node_id']} is waiting for an answer:", highlight=False)
                    err_console.print(describe_question(question), highlight=False)
            if run["status"] in TERMINAL_RUN_STATUSES:
                return run
            time.sleep(POLL_SECONDS)
            run = api.request("GET", f"/v1/workflow-runs/{run['id']}", params={"wait": 5})
    except KeyboardInterrupt:
        err_console.print(
            f"Stopped following workflow run {run['id']} after {human_duration((time.monotonic() - started) * 1000)}; "
            f"it goes on on the server (cytasks workflow runs show {run['id']})",
            highlight=False,
        )
        raise typer.Exit(130) from None


@app.command("run")
def run_workflow(
    workflow: str = typer.Argument(..., help="Workflow name or id"),
    input: Optional[str] = typer.Option(None, "--input", "-i", help="Run input: JSON text, @file.json or @- for stdin"),
    wait: bool = typer.Option(False, "--wait", "-w", help="Follow the run node by node and print its output"),
    version: Optional[int] = typer.Option(None, "--version", help="Run this version (default: the current one)"),
    idempotency_key: Optional[str] = typer.Option(None, "--idempotency-key"),
    as_json: bool = JsonOpt,
) -> None:
    """Start a run of a workflow."""
    body: dict[str, Any] = {"input": parse_json_arg(input)}
    if version is not None:
        body["version"] = version
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    with api_call(), client() as api:
        run = api.request("POST", f"/v1/workflows/{workflow}/execute", json=body, headers=headers)
        if not wait:
            if as_json:
                print_json(run)
            else:
                console.print(f"Workflow run [bold]{run['id']}[/] {styled_status(run['status'])}", highlight=False)
            return
        run = follow(api, run)
    if as_json:
        print_json(run)
    elif run["status"] == "completed":
        print_json(run.get("output"))
    if run["status"] == "completed":
        raise typer.Exit(0)
    err_console.print(f"workflow run {run['id']} {styled_status(run['status'])}", highlight=False)
    if run.get("error"):
        print_run_error(run["error"])
    raise typer.Exit(1)


@runs_app.command("list")
def list_runs(
    workflow: Optional[str] = typer.Option(None, "--workflow", "-w", help="Workflow name or id"),
    status: Optional[str] = typer.Option(None, "--status", "-s"),
    limit: int = typer.Option(20, "--limit", "-n", min=1),
    as_json: bool = JsonOpt,
) -> None:
    """List workflow runs, newest first."""
    params = {key: value for key, value in {"workflow": workflow, "status": status, "limit": limit}.items() if value}
    with api_call(), client() as api:
        page = api.request("GET", "/v1/workflow-runs", params=params)
    if as_json:
        print_json(page)
        return
    rows = table("run", "workflow", "status", "started", "duration")
    for run in page["items"]:
        rows.add_row(
            run["id"],
            f"{run['workflow_name']} v{run['workflow_version']}",
            styled_status(run["status"]),
            short_time(run.get("started_at")),
            human_duration(run.get("duration_ms")),
        )
    console.print(rows)


@runs_app.command("show")
def show_run(run_id: str = typer.Argument(...), as_json: bool = JsonOpt) -> None:
    """Show a workflow run and the status of each node."""
    with api_call(), client() as api:
        run = api.request("GET", f"/v1/workflow-runs/{run_id}")
    if as_json:
        print_json(run)
        return
    console.print(
        f"workflow run [bold]{run['id']}[/] {run['workflow_name']} v{run['workflow_version']} {styled_status(run['status'])}",
        highlight=False,
    )
    for line in node_lines(run):
        console.print(line, highlight=False)
    if run.get("error"):
        print_run_error(run["error"])
    if run["status"] == "completed":
        console.print(json.dumps(run.get("output"), indent=2)[:4000], highlight=False)


@runs_app.command("cancel")
def cancel_run(run_id: str = typer.Argument(...)) -> None:
    """Cancel a workflow run and its running nodes."""
    with api_call(), client() as api:
        run = api.request("POST", f"/v1/workflow-runs/{run_id}/cancel")
    console.print(f"workflow run {run['id']}: {styled_status(run['status'])}", highlight=False)


def _schedule_url(workflow: str) -> str:
    return f"/v1/workflows/{workflow}/schedule"


@schedule_app.command("set")
def set_schedule(
    workflow: str = typer.Argument(..., help="Workflow name or id"),
    cron: Optional[str] = CronOpt,
    every: Optional[str] = EveryOpt,
    offset: Optional[str] = OffsetOpt,
    tz: str = TzOpt,
    input: Optional[str] = InputOpt,
    overlap: Optional[str] = OverlapOpt,
    catchup_window: Optional[str] = CatchupOpt,
    jitter: Optional[str] = JitterOpt,
    paused: bool = PausedOpt,
    note: Optional[str] = NoteOpt,
    version: Optional[int] = typer.Option(
        None, "--version", "-v", min=1, help="Run this workflow version on every fire (default: the current one)"
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Create or replace a workflow's schedule."""
    body = schedule_body(cron, every, offset, tz, input, overlap, catchup_window, jitter, paused, note, version)
    with api_call(), client() as api:
        schedule = api.request("PUT", _schedule_url(workflow), json=body)
    print_json(schedule) if as_json else render_schedule(schedule)


@schedule_app.command("show")
def show_schedule(workflow: str = typer.Argument(..., help="Workflow name or id"), as_json: bool = JsonOpt) -> None:
    """The schedule, its next fire times and its recent actions with their workflow runs."""
    with api_call(), client() as api:
        schedule = api.request("GET", _schedule_url(workflow))
    print_json(schedule) if as_json else render_schedule(schedule)


@schedule_app.command("pause")
def pause_schedule(workflow: str = typer.Argument(...), note: Optional[str] = NoteOpt, as_json: bool = JsonOpt) -> None:
    """Pause the schedule (no fires until unpaused)."""
    with api_call(), client() as api:
        schedule = api.request("POST", _schedule_url(workflow) + "/pause", json={"note": note})
    print_json(schedule) if as_json else render_schedule(schedule)


@schedule_app.command("unpause")
def unpause_schedule(workflow: str = typer.Argument(...), note: Optional[str] = NoteOpt, as_json: bool = JsonOpt) -> None:
    """Resume the schedule."""
    with api_call(), client() as api:
        schedule = api.request("POST", _schedule_url(workflow) + "/unpause", json={"note": note})
    print_json(schedule) if as_json else render_schedule(schedule)


@schedule_app.command("trigger")
def trigger_schedule(
    workflow: str = typer.Argument(...),
    overlap: Optional[str] = typer.Option(None, "--overlap", help="Override the overlap policy for this run"),
    as_json: bool = JsonOpt,
) -> None:
    """Run the scheduled workflow now."""
    body = {"overlap": overlap_policy(overlap)} if overlap else None
    with api_call(), client() as api:
        result = api.request("POST", _schedule_url(workflow) + "/trigger", json=body)
    if as_json:
        print_json(result)
    elif result.get("workflow_run_id"):
        console.print(f"triggered: workflow run [bold]{result['workflow_run_id']}[/]", highlight=False)
    else:
        console.print(f"triggered at {result['triggered_at']}", highlight=False)


@schedule_app.command("delete")
def delete_schedule(workflow: str = typer.Argument(...)) -> None:
    """Remove the schedule (its runs are kept)."""
    with api_call(), client() as api:
        api.request("DELETE", _schedule_url(workflow))
    console.print("schedule deleted")
