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
    pending_over: Optional[float] = typer.Option(None, "--pending-over", help="Also alert on a run waiting this many seconds for a slot"),
    question_over: Optional[float] = typer.Option(None, "--question-over", help="Also alert on a question unanswered this many seconds"),
    late_over: Optional[float] = typer.Option(None, "--late-over", help="Also alert on a schedule fire whose run starts this many seconds late"),
    no_run_ends: bool = typer.Option(False, "--no-run-ends", help="Only the thresholds: no alert on failed or timed-out runs"),
    as_json: bool = JsonOpt,
) -> None:
    """Create an alert."""
    body = {"name": name, "url": url, "on": [] if no_run_ends else on, "format": format}
    for field, value in (("pending_over_seconds", pending_over), ("question_waiting_over_seconds", question_over), ("schedule_late_over_seconds", late_over)):
        if value is not None:
            body[field] = value
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


def thresholds(alert: dict) -> str:
    labels = (("pending_over_seconds", "pending"), ("question_waiting_over_seconds", "question"), ("schedule_late_over_seconds", "late"))
    return ", ".join(f"{label} > {alert[field]:g} s" for field, label in labels if alert.get(field) is not None)


@app.command("list")
def list_alerts(task: Optional[str] = typer.Option(None, "--task", help="Only this task's alerts"), as_json: bool = JsonOpt) -> None:
    """List alerts, newest first (never their secrets)."""
    params = {"limit": 200, **({"task_id": task} if task else {})}
    with api_call(), client() as api:
        alerts = api.request("GET", "/v1/alerts", params=params)["items"]
    if as_json:
        print_json(alerts)
        return
    out = table("name", "task", "on", "thresholds", "format", "url", "signed", "enabled", "created", "id")
    for alert in alerts:
        out.add_row(
            alert["name"],
            alert.get("task_id") or "global default",
            ", ".join(alert["on"]),
            thresholds(alert),
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
