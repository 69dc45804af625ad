"""`cytasks alert create|list|delete|deliveries`: alerts on failed and timed-out runs."""

from __future__ import annotations

from typing import Optional

import typer

from .output import api_call, client, console, err_console, print_json, short_time, table
from .rule_commands import print_deliveries

app = typer.Typer(name="alert", help="Alerts: post a signed webhook when a run fails or times out.", no_args_is_help=True)

JsonOpt = typer.Option(False, "--json", help="Print the raw JSON")


@app.command("create")
def create_alert(
    name: str = typer.Argument(..., help="A unique name"),
    url: str = typer.Option(..., "--url", help="The webhook to POST to"),
    on: list[str] = typer.Option(["failed", "timed_out"], "--on", help="failed or timed_out; repeat for both (the default)"),
    task: Optional[str] = typer.Option(None, "--task", help="The task (id or cy_name); default: the global alert, for tasks without their own"),
    secret: Optional[str] = typer.Option(None, "--secret", envvar="CYTASKS_ALERT_SECRET", help="Signs each body (X-Cytasks-Signature)"),
    format: str = typer.Option("json", "--format", help="json or slack"),
    as_json: bool = JsonOpt,
) -> None:
    """Create an alert."""
    body = {"name": name, "url": url, "on": on, "format": format}
    if task:
        body["task_id"] = task
    if secret:
        body["secret"] = secret
    with api_call(), client() as api:
        created = api.request("POST", "/v1/alerts", json=body)
    if as_json:
        print_json(created)
        return
    err_console.print(f"Created alert {created['name']}, id {created['id']}", highlight=False)


@app.command("list")
def list_alerts(task: Optional[str] = typer.Option(None, "--task", help="Only this task's alerts"), as_json: bool = JsonOpt) -> None:
    """List alerts, newest first (never their secrets)."""
    params = {"limit": 200, **({"task_id": task} if task else {})}
    with api_call(), client() as api:
        alerts = api.request("GET", "/v1/alerts", params=params)["items"]
    if as_json:
        print_json(alerts)
        return
    out = table("name", "task", "on", "format", "url", "signed", "enabled", "created", "id")
    for alert in alerts:
        out.add_row(
            alert["name"],
            alert.get("task_id") or "global default",
            ", ".join(alert["on"]),
            alert["format"],
            alert["url"],
            "yes" if alert["has_secret"] else "no",
            "yes" if alert["enabled"] else "no",
            short_time(alert.get("created_at")),
            alert["id"],
        )
    console.print(out)


@app.command("delete")
def delete_alert(alert_id: str = typer.Argument(..., help="The alert's id")) -> None:
    """Delete an alert (and its deliveries)."""
    with api_call(), client() as api:
        api.request("DELETE", f"/v1/alerts/{alert_id}")
    err_console.print(f"Deleted alert {alert_id}", highlight=False)


@app.command("deliveries")
def alert_deliveries(alert_id: str = typer.Argument(..., help="The alert's id"), as_json: bool = JsonOpt) -> None:
    """The notifications an alert sent (or failed to send), newest first."""
    with api_call(), client() as api:
        items = api.request("GET", f"/v1/alerts/{alert_id}/deliveries", params={"limit": 200})["items"]
    if as_json:
        print_json(items)
        return
    print_deliveries(items)
