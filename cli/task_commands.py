"""`cytasks task ...`: create, list, show, update, version, archive, test and replay saved tasks."""

from __future__ import annotations

import json
from typing import Any, Optional

import typer
from rich.panel import Panel
from rich.syntax import Syntax

from .output import (
    fail,
    api_call,
    client,
    console,
    parse_json_arg,
    print_json,
    read_text_arg,
    short_time,
    styled_status,
    table,
)

app = typer.Typer(name="task", help="Manage saved tasks.", no_args_is_help=True)


def _task_fields(
    *,
    cy_name: str | None,
    description: str | None,
    directive: str | None,
    function: str | None,
    scope: str | None,
    input_schema: str | None,
    output_schema: str | None,
    data_samples: str | None,
    llm_config: str | None,
    timeout: int | None,
    max_concurrency: int | None,
    status: str | None,
    test_on_save: bool | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "cy_name": cy_name,
        "description": description,
        "directive": directive,
        "function": function,
        "scope": scope,
        "input_schema": parse_json_arg(input_schema, "--input-schema"),
        "output_schema": parse_json_arg(output_schema, "--output-schema"),
        "data_samples": parse_json_arg(data_samples, "--data-samples"),
        "llm_config": parse_json_arg(llm_config, "--llm-config"),
        "timeout_seconds": timeout,
        "max_concurrency": max_concurrency,
        "status": status,
        "test_on_save": test_on_save,
    }
    return {key: value for key, value in body.items() if value is not None}


CyNameOpt = typer.Option(None, "--cy-name", help="Identifier scripts use (default: derived from the name)")
DescriptionOpt = typer.Option(None, "--description", "-d")
DirectiveOpt = typer.Option(None, "--directive", help="System message given to LLM calls")
FunctionOpt = typer.Option(None, "--function", help="summarization, extraction, reasoning, ...")
ScopeOpt = typer.Option(None, "--scope", help="input, processing or output")
InputSchemaOpt = typer.Option(None, "--input-schema", help="JSON Schema (JSON text or @file)")
OutputSchemaOpt = typer.Option(None, "--output-schema", help="JSON Schema (JSON text or @file)")
SamplesOpt = typer.Option(None, "--data-samples", help="JSON list (JSON text or @file)")
LLMOpt = typer.Option(None, "--llm-config", help='e.g. \'{"model": "gpt-4o-mini", "temperature": 0}\'')
TimeoutOpt = typer.Option(None, "--timeout", help="Run timeout in seconds")
ConcurrencyOpt = typer.Option(None, "--max-concurrency")
JsonOpt = typer.Option(False, "--json", help="Print the raw JSON resource")
TestOnSaveOpt = typer.Option(
    None,
    "--test-on-save/--no-test-on-save",
    help="Refuse a change whose new version or samples fail the task's data samples",
)


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Human readable task name"),
    script_file: str = typer.Argument(..., metavar="SCRIPT.cy", help="Cy source file ('-' for stdin)"),
    cy_name: Optional[str] = CyNameOpt,
    description: Optional[str] = DescriptionOpt,
    directive: Optional[str] = DirectiveOpt,
    function: Optional[str] = FunctionOpt,
    scope: Optional[str] = ScopeOpt,
    input_schema: Optional[str] = InputSchemaOpt,
    output_schema: Optional[str] = OutputSchemaOpt,
    data_samples: Optional[str] = SamplesOpt,
    llm_config: Optional[str] = LLMOpt,
    timeout: Optional[int] = TimeoutOpt,
    max_concurrency: Optional[int] = ConcurrencyOpt,
    test_on_save: Optional[bool] = TestOnSaveOpt,
    disabled: bool = typer.Option(False, "--disabled", help="Create the task disabled"),
    as_json: bool = JsonOpt,
) -> None:
    """Create a task from a Cy script."""
    body = {
        "name": name,
        "script": read_text_arg(script_file),
        **_task_fields(
            cy_name=cy_name,
            description=description,
            directive=directive,
            function=function,
            scope=scope,
            input_schema=input_schema,
            output_schema=output_schema,
            data_samples=data_samples,
            llm_config=llm_config,
            timeout=timeout,
            max_concurrency=max_concurrency,
            status="disabled" if disabled else None,
            test_on_save=test_on_save,
        ),
    }
    with api_call(), client() as api:
        task = api.create_task(body)
    if as_json:
        print_json(task)
        return
    console.print(
        f"Created task [bold]{task['cy_name']}[/] ({task['id']}) version {task['version']}", highlight=False
    )


@app.command("list")
def list_tasks(
    name: Optional[str] = typer.Option(None, "--name"),
    cy_name: Optional[str] = typer.Option(None, "--cy-name"),
    function: Optional[str] = typer.Option(None, "--function"),
    scope: Optional[str] = typer.Option(None, "--scope"),
    status: Optional[str] = typer.Option(None, "--status", help="enabled, disabled or archived"),
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="Maximum number of tasks shown"),
    as_json: bool = JsonOpt,
) -> None:
    """List tasks."""
    filters = {"name": name, "cy_name": cy_name, "function": function, "scope": scope, "status": status}
    with api_call(), client() as api:
        tasks = list(api.iter_tasks(limit=limit, **filters))
    if as_json:
        print_json(tasks)
        return
    out = table("cy_name", "name", "status", "ver", "function", "updated", wrap=("name",))
    for task in tasks:
        out.add_row(
            task["cy_name"],
            task["name"],
            styled_status(task.get("status")),
            str(task.get("version")),
            task.get("function") or "",
            short_time(task.get("updated_at")),
        )
    console.print(out)
    if not tasks:
        console.print("[dim]No tasks.[/]")


@app.command("show")
def show(
    task: str = typer.Argument(..., help="Task id or cy_name"),
    as_json: bool = JsonOpt,
) -> None:
    """Show a task and its script."""
    with api_call(), client() as api:
        data = api.get_task(task)
    if as_json:
        print_json(data)
        return
    lines = [
        f"[bold]{data['name']}[/]  ({data['cy_name']})",
        f"id: {data['id']}",
        f"status: {styled_status(data.get('status'))}   version: {data.get('version')}",
    ]
    for key in ("description", "directive", "function", "scope", "mode", "timeout_seconds", "max_concurrency"):
        if data.get(key) not in (None, ""):
            lines.append(f"{key}: {data[key]}")
    if data.get("test_on_save"):
        lines.append(f"test_on_save: on ({len(data.get('data_samples') or [])} samples)")
    console.print(Panel("\n".join(lines), title="task", expand=False), highlight=False)
    console.print(Syntax((data.get("script") or "").rstrip("\n"), "python", line_numbers=True, theme="ansi_dark"))
    for key in ("input_schema", "output_schema", "llm_config"):
        if data.get(key):
            console.print(f"[bold]{key}[/]")
            console.print_json(data=data[key])


@app.command("update")
def update(
    task: str = typer.Argument(..., help="Task id or cy_name"),
    script_file: Optional[str] = typer.Option(None, "--script", "-s", help="New Cy source file ('-' for stdin)"),
    name: Optional[str] = typer.Option(None, "--name"),
    cy_name: Optional[str] = CyNameOpt,
    description: Optional[str] = DescriptionOpt,
    directive: Optional[str] = DirectiveOpt,
    function: Optional[str] = FunctionOpt,
    scope: Optional[str] = ScopeOpt,
    input_schema: Optional[str] = InputSchemaOpt,
    output_schema: Optional[str] = OutputSchemaOpt,
    data_samples: Optional[str] = SamplesOpt,
    llm_config: Optional[str] = LLMOpt,
    timeout: Optional[int] = TimeoutOpt,
    max_concurrency: Optional[int] = ConcurrencyOpt,
    status: Optional[str] = typer.Option(None, "--status", help="enabled or disabled"),
    test_on_save: Optional[bool] = TestOnSaveOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Change a task; a change to the script or execution settings makes a new version."""
    changes = _task_fields(
        cy_name=cy_name,
        description=description,
        directive=directive,
        function=function,
        scope=scope,
        input_schema=input_schema,
        output_schema=output_schema,
        data_samples=data_samples,
        llm_config=llm_config,
        timeout=timeout,
        max_concurrency=max_concurrency,
        status=status,
        test_on_save=test_on_save,
    )
    if name is not None:
        changes["name"] = name
    if script_file is not None:
        changes["script"] = read_text_arg(script_file)
    if not changes:
        fail("nothing to change: pass at least one option", code=2)
    with api_call(), client() as api:
        data = api.update_task(task, changes)
    if as_json:
        print_json(data)
        return
    console.print(f"Updated task [bold]{data['cy_name']}[/], now version {data['version']}", highlight=False)


@app.command("versions")
def versions(
    task: str = typer.Argument(..., help="Task id or cy_name"),
    as_json: bool = JsonOpt,
) -> None:
    """List a task's versions."""
    with api_call(), client() as api:
        page = api.task_versions(task)
    items = page.get("items", [])
    if as_json:
        print_json(items)
        return
    out = table("version", "created", "timeout", "script", wrap=("script",))
    for item in items:
        first_line = (item.get("script") or "").strip().splitlines()
        out.add_row(
            str(item["version"]),
            short_time(item.get("created_at")),
            str(item.get("timeout_seconds") or ""),
            (first_line[0][:60] if first_line else ""),
        )
    console.print(out)


@app.command("archive")
def archive(task: str = typer.Argument(..., help="Task id or cy_name")) -> None:
    """Archive a task (it can no longer run; its runs are kept)."""
    with api_call(), client() as api:
        api.archive_task(task)
    console.print(f"Archived task [bold]{task}[/]", highlight=False)


@app.command("rollback")
def rollback(
    task: str = typer.Argument(..., help="Task id or cy_name"),
    version: int = typer.Option(..., "--version", "-v", min=1, help="The version whose content comes back"),
    as_json: bool = JsonOpt,
) -> None:
    """Make a new version equal to an earlier one (script and execution settings)."""
    with api_call(), client() as api:
        updated = api.request("POST", f"/v1/tasks/{task}/rollback", json={"version": version})
    if as_json:
        print_json(updated)
        return
    console.print(
        f"Task [bold]{updated['cy_name']}[/] is now version {updated['version']}, equal to version {version}",
        highlight=False,
    )


@app.command("diff")
def diff(
    task: str = typer.Argument(..., help="Task id or cy_name"),
    from_version: int = typer.Argument(..., min=1, help="The older version"),
    to_version: int = typer.Argument(..., min=1, help="The newer version"),
    as_json: bool = JsonOpt,
) -> None:
    """Show what changed between two versions of a task."""
    with api_call(), client() as api:
        changes = api.request("GET", f"/v1/tasks/{task}/versions/{from_version}/diff/{to_version}")
    if as_json:
        print_json(changes)
        return
    if changes["script_diff"]:
        console.print(Syntax(changes["script_diff"], "diff", theme="ansi_dark", word_wrap=True))
    for field, change in changes["changes"].items():
        console.print(f"[bold]{field}[/]: {change['from']!r} → {change['to']!r}", highlight=False)
    if not changes["script_diff"] and not changes["changes"]:
        console.print(f"[dim]Versions {from_version} and {to_version} are the same.[/]")


def _print_diff(diff: list[dict[str, Any]], expected: str = "expected", actual: str = "actual") -> None:
    for entry in diff:
        path = entry["path"]
        if entry["kind"] == "missing":
            console.print(f"      {path}: {expected} {json.dumps(entry['expected'])}, missing", highlight=False, markup=False)
        elif entry["kind"] == "unexpected":
            console.print(f"      {path}: not {expected}, {actual} {json.dumps(entry['actual'])}", highlight=False, markup=False)
        else:
            console.print(
                f"      {path}: {expected} {json.dumps(entry['expected'])}, {actual} {json.dumps(entry['actual'])}",
                highlight=False,
                markup=False,
            )


def _print_report_item(item: dict[str, Any]) -> None:
    label = f"#{item['index']}" + (f" {item['name']}" if item.get("name") else "")
    if item["passed"]:
        console.print(f"[green]PASS[/] {label}", highlight=False)
        return
    console.print(f"[red]FAIL[/] {label}: ", end="", highlight=False)
    console.print(item.get("reason") or "failed", highlight=False, markup=False)
    _print_diff(item.get("diff") or [])
    for failure in [*(item.get("expectation_failures") or []), *(item.get("output_schema_failures") or [])]:
        console.print(f"      {failure['path']}: {failure['message']}", highlight=False, markup=False)


@app.command("test")
def test(
    task: str = typer.Argument(..., help="Task id or cy_name"),
    script_file: Optional[str] = typer.Option(None, "--script", "-s", help="Test this unsaved Cy source file instead"),
    version: Optional[int] = typer.Option(None, "--version", "-v", min=1, help="Test this saved version"),
    samples: Optional[str] = typer.Option(None, "--samples", help="Samples to test instead of the task's (JSON list or @file)"),
    as_json: bool = JsonOpt,
) -> None:
    """Run the task's data samples with canned tool results (no real tool is called).
    Exits 1 when a sample fails, so it can gate CI."""
    body: dict[str, Any] = {}
    if script_file is not None:
        body["script"] = read_text_arg(script_file)
    if version is not None:
        body["version"] = version
    if samples is not None:
        body["samples"] = parse_json_arg(samples, "--samples")
    with api_call(), client() as api:
        report = api.request("POST", f"/v1/tasks/{task}/test", json=body)
    counts = report["summary"]
    if as_json:
        print_json(report)
    else:
        for item in report["items"]:
            _print_report_item(item)
        tested = "the unsaved script" if report.get("version") is None else f"version {report['version']}"
        if not counts["total"]:
            console.print(f"[yellow]No samples to test[/] ({tested})", highlight=False)
        else:
            style = "green" if not counts["failed"] else "red"
            console.print(
                f"[{style}]{counts['passed']} passed, {counts['failed']} failed[/] ({tested})", highlight=False
            )
    if counts["failed"]:
        raise typer.Exit(1)


def _print_replay(item: dict[str, Any]) -> None:
    outcome = item["outcome"]
    style = {"same": "green", "different": "yellow", "failed": "red"}[outcome]
    console.print(f"[{style}]{outcome.upper()}[/] run {item['run_id']}", end="", highlight=False)
    if item.get("error"):
        error = item["error"]
        where = f" at line {error['line']}, column {error['column']}" if error.get("line") else ""
        console.print(f": {error.get('type')}{where}: ", end="", highlight=False)
        console.print(str(error.get("message")), highlight=False, markup=False)
    else:
        console.print("")
    _print_diff(item.get("diff") or [], "recorded", "now")
    for failure in item.get("output_schema_failures") or []:
        console.print(f"      {failure['path']}: {failure['message']}", highlight=False, markup=False)


@app.command("replay")
def replay(
    run_id: str = typer.Argument(..., help="A finished run"),
    script_file: Optional[str] = typer.Option(None, "--script", "-s", help="Replay against this unsaved Cy source file"),
    version: Optional[int] = typer.Option(None, "--version", "-v", min=1, help="Replay against this saved version"),
    as_json: bool = JsonOpt,
) -> None:
    """Run a version (default: the task's current one) on a finished run's input, with the tool
    results the run recorded. Exits 0 when the output is the same, 1 otherwise."""
    body: dict[str, Any] = {"run_id": run_id}
    if script_file is not None:
        body["script"] = read_text_arg(script_file)
    if version is not None:
        body["version"] = version
    with api_call(), client() as api:
        run = api.get_run(run_id)
        if not run.get("task_id"):
            fail(f"run {run_id} is an ad-hoc run: only runs of a saved task can be replayed")
        result = api.request("POST", f"/v1/tasks/{run['task_id']}/replay", json=body)
    if as_json:
        print_json(result)
    else:
        _print_replay(result)
    if result["outcome"] != "same":
        raise typer.Exit(1)


@app.command("replay-batch")
def replay_batch(
    task: str = typer.Argument(..., help="Task id or cy_name"),
    last: int = typer.Option(20, "--last", "-n", min=1, max=100, help="How many of the last completed runs"),
    script_file: Optional[str] = typer.Option(None, "--script", "-s", help="Replay against this unsaved Cy source file"),
    version: Optional[int] = typer.Option(None, "--version", "-v", min=1, help="Replay against this saved version"),
    as_json: bool = JsonOpt,
) -> None:
    """Replay the task's last completed runs. Exits 0 when every output is the same, 1 otherwise."""
    body: dict[str, Any] = {"last": last}
    if script_file is not None:
        body["script"] = read_text_arg(script_file)
    if version is not None:
        body["version"] = version
    with api_call(), client() as api:
        report = api.request("POST", f"/v1/tasks/{task}/replay-batch", json=body)
    counts = report["summary"]
    if as_json:
        print_json(report)
    else:
        for item in report["items"]:
            if item["outcome"] != "same":
                _print_replay(item)
        console.print(
            f"{counts['total']} runs: {counts['same']} same, {counts['different']} different, {counts['failed']} failed",
            highlight=False,
        )
    if counts["total"] != counts["same"]:
        raise typer.Exit(1)
