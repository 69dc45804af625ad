"""`cytasks audit`: who changed, ran, cancelled or answered what (needs an admin key)."""

from __future__ import annotations

import json
from typing import Optional

import typer

from .output import api_call, client, console, print_json, short_time, table

app = typer.Typer(name="audit", help="The audit log (needs an admin key).", invoke_without_command=True)


@app.callback()
def audit(
    actor: Optional[str] = typer.Option(None, "--actor", help="API key name"),
    action: Optional[str] = typer.Option(None, "--action", help="e.g. task.create, run.execute, question.answer"),
    target_type: Optional[str] = typer.Option(None, "--target-type", help="task, run, schedule, question, api_key"),
    target: Optional[str] = typer.Option(None, "--target", help="The target's id"),
    after: Optional[str] = typer.Option(None, "--after", help="ISO 8601, inclusive"),
    before: Optional[str] = typer.Option(None, "--before", help="ISO 8601, exclusive"),
    limit: int = typer.Option(50, "--limit", "-n", min=1),
    as_json: bool = typer.Option(False, "--json", help="Print the raw JSON"),
) -> None:
    """List audit entries, newest first."""
    filters = {
        "actor": actor,
        "action": action,
        "target_type": target_type,
        "target_id": target,
        "after": after,
        "before": before,
    }
    with api_call(), client() as api:
        entries = list(api._iterate("/v1/audit", limit, filters))
    if as_json:
        print_json(entries)
        return
    out = table("at", "actor", "action", "target", "outcome", "from", "details", wrap=("details",))
    for entry in entries:
        target_text = f"{entry['target_type']} {entry.get('target_id') or ''}".strip()
        details = json.dumps(entry["details"]) if entry.get("details") else ""
        out.add_row(
            short_time(entry["at"]),
            entry.get("actor") or "",
            entry["action"],
            target_text,
            entry["outcome"],
            entry.get("source_address") or "",
            details,
        )
    console.print(out)
    if not entries:
        console.print("[dim]No audit entries.[/]")
