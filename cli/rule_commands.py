"""`cytasks rule create|list|get|delete|deliveries`: event rules (on an event, start a task or a workflow)."""

from __future__ import annotations

import json
from typing import Any, Optional

import typer

from .output import api_call, client, console, err_console, print_json, short_time, table

app = typer.Typer(name="rule", help="Event rules: on an event, start a task or a workflow with the event as input.", no_args_is_help=True)

JsonOpt = typer.Option(False, "--json", help="Print the raw JSON")


def parse_match(conditions: list[str]) -> list[dict[str, Any]]:
    """``/pointer=value`` pairs; the value is JSON when it parses as JSON, else a string."""
    parsed = []
    for condition in conditions:
        pointer, sep, raw = condition.partition("=")
        if not sep:
            raise typer.BadParameter(f"{condition!r}: write /json/pointer=value", param_hint="--match")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        parsed.append({"pointer": pointer, "equals": value})
    return parsed


def print_deliveries(items: list[dict[str, Any]]) -> None:
    out = table("when", "event", "source run", "status", "attempts", "target run", "error")
    for item in items:
        out.add_row(
            short_time(item.get("created_at")),
            item["event_type"],
            item["source_run_id"],
            item["status"],
            str(item["attempts"]),
            item.get("target_run_id") or "",
            item.get("error") or "",
        )
    console.print(out)


@app.command("create")
def create_rule(
    name: str = typer.Argument(..., help="A unique name"),
    event: list[str] = typer.Option(..., "--event", "-e", help="run.completed, run.failed, run.timed_out, run.cancelled, schedule.missed, question.created, question.expired or workflow_run.completed|failed|cancelled; repeat for several"),
    target: Optional[str] = typer.Option(None, "--target", "-t", help="The task to start (id or cy_name)"),
    target_workflow: Optional[str] = typer.Option(None, "--target-workflow", "-w", help="The workflow to start instead of a task (id or name)"),
    task: Optional[str] = typer.Option(None, "--task", help="Only events of this task's runs (id or cy_name); default: any run"),
    match: list[str] = typer.Option([], "--match", "-m", help="/json/pointer=value that must hold in the event; repeat for several"),
    disabled: bool = typer.Option(False, "--disabled", help="Create it disabled"),
    as_json: bool = JsonOpt,
) -> None:
    """Create a rule."""
    if (target is None) == (target_workflow is None):
        raise typer.BadParameter("name one target: --target TASK or --target-workflow WORKFLOW", param_hint="--target")
    goal = {"workflow_id": target_workflow} if target_workflow else {"task_id": target}
    body = {"name": name, "event": event, "target": goal, "match": parse_match(match), "enabled": not disabled}
    if task:
        body["task_id"] = task
    with api_call(), client() as api:
        created = api.request("POST", "/v1/event-rules", json=body)
    if as_json:
        print_json(created)
        return
    err_console.print(f"Created rule {created['name']}, id {created['id']}", highlight=False)


@app.command("list")
def list_rules(task: Optional[str] = typer.Option(None, "--task", help="Only rules on this task's events"), as_json: bool = JsonOpt) -> None:
    """List rules, newest first."""
    params = {"limit": 200, **({"task_id": task} if task else {})}
    with api_call(), client() as api:
        rules = api.request("GET", "/v1/event-rules", params=params)["items"]
    if as_json:
        print_json(rules)
        return
    out = table("name", "events", "source task", "target", "match", "enabled", "id")
    for rule in rules:
        out.add_row(
            rule["name"],
            ", ".join(rule["event"]),
            rule.get("task_id") or "any",
            rule["target"].get("task_id") or f"workflow {rule['target'].get('workflow_id')}",
            ", ".join(f"{c['pointer']}={json.dumps(c['equals'])}" for c in rule["match"]),
            "yes" if rule["enabled"] else "no",
            rule["id"],
        )
    console.print(out)


@app.command("get")
def get_rule(rule_id: str = typer.Argument(..., help="The rule's id")) -> None:
    """Print a rule as JSON."""
    with api_call(), client() as api:
        print_json(api.request("GET", f"/v1/event-rules/{rule_id}"))


@app.command("delete")
def delete_rule(rule_id: str = typer.Argument(..., help="The rule's id")) -> None:
    """Delete a rule (and its deliveries)."""
    with api_call(), client() as api:
        api.request("DELETE", f"/v1/event-rules/{rule_id}")
    err_console.print(f"Deleted rule {rule_id}", highlight=False)


@app.command("deliveries")
def rule_deliveries(rule_id: str = typer.Argument(..., help="The rule's id"), as_json: bool = JsonOpt) -> None:
    """The events delivered to a rule (or refused), newest first."""
    with api_call(), client() as api:
        items = api.request("GET", f"/v1/event-rules/{rule_id}/deliveries", params={"limit": 200})["items"]
    if as_json:
        print_json(items)
        return
    print_deliveries(items)
