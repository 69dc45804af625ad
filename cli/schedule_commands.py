"""`cytasks schedule ...`: set, show, pause, unpause, trigger, backfill and delete a task's schedule.

``schedule_body`` and ``render`` serve ``cytasks workflow schedule ...`` too: a workflow's
schedule takes the same fields and answers the same shape (named ``workflow`` for ``task``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import typer

from . import output
from .output import api_call, console, fail, format_time, parse_json_arg, print_json, short_time, styled_status, table

app = typer.Typer(name="schedule", help="Run tasks on cron or interval schedules.", no_args_is_help=True)

OVERLAPS = ("skip", "buffer-one", "buffer-all", "cancel-other", "terminate-other", "allow-all")
JsonOpt = typer.Option(False, "--json", help="Print the raw JSON resource")
NoteOpt = typer.Option(None, "--note", "-n", help="Why (shown with the schedule)")
CronOpt = typer.Option(None, "--cron", help='Cron expression, e.g. "0 7 * * 1-5" or @hourly')
EveryOpt = typer.Option(None, "--every", help="Interval: 90s, 5m, 1h, 1d (optionally 1h/15m)")
OffsetOpt = typer.Option(None, "--offset", help="Offset of interval fires, e.g. 15m")
TzOpt = typer.Option("UTC", "--tz", help="IANA time zone, e.g. Europe/Paris")
InputOpt = typer.Option(None, "--input", "-i", help="Run input: JSON text or @file.json")
OverlapOpt = typer.Option(None, "--overlap", help="|".join(OVERLAPS) + " (default skip)")
CatchupOpt = typer.Option(None, "--catchup-window", help="e.g. 10m (at least 10s)")
JitterOpt = typer.Option(None, "--jitter", help="Random delay up to this, e.g. 30s")
PausedOpt = typer.Option(False, "--paused", help="Create it paused")


def overlap_policy(value: str | None) -> str | None:
    if value is None:
        return None
    normalized = value.strip().lower().replace("_", "-")
    if normalized not in OVERLAPS:
        fail(f"--overlap must be one of {', '.join(OVERLAPS)}, got {value!r}")
    return normalized.replace("-", "_")


def _base(task: str) -> str:
    return f"/v1/tasks/{task}/schedule"


def render(schedule: dict[str, Any]) -> None:
    when = f"cron [bold]{schedule['cron']}[/]" if schedule.get("cron") else f"every [bold]{schedule['interval']}[/]"
    if schedule.get("offset"):
        when += f" (offset {schedule['offset']})"
    tz = schedule.get("timezone") or "UTC"
    owner = schedule.get("task") or schedule.get("workflow")
    console.print(f"[bold]{owner}[/]  {when}  in {tz}", highlight=False)
    state = "[yellow]paused[/]" if schedule["paused"] else "[green]active[/]"
    reason = schedule.get("pause_reason")
    console.print(
        f"  state: {state}"
        + (f" ({reason})" if reason and reason != "paused" else "")
        + (f"  note: {schedule['note']}" if schedule.get("note") else ""),
        highlight=False,
    )
    details = [f"overlap {schedule['overlap']}"]
    if schedule.get("catchup_window"):
        details.append(f"catch-up window {schedule['catchup_window']}")
    if schedule.get("jitter"):
        details.append(f"jitter {schedule['jitter']}")
    if schedule.get("num_actions") is not None:
        details.append(f"{schedule['num_actions']} actions, {schedule.get('num_skipped_overlap') or 0} skipped (overlap)")
    console.print("  " + ", ".join(details), highlight=False)
    if schedule.get("input") is not None:
        console.print(f"  input: {schedule['input']}", highlight=False, markup=False)
    if not schedule.get("in_sync", True):
        console.print("  [yellow]Temporal's schedule differs from the stored one (reconciliation repairs it)[/]")
    if schedule.get("next_fire_times"):
        console.print(f"  next fires ({tz}):", highlight=False)
        for fire in schedule["next_fire_times"]:
            console.print(f"    {format_time(fire, tz)}", highlight=False)
    actions = schedule.get("recent_actions") or []
    if actions:
        grid = table("scheduled", "started", "run", "status", "backfill", title="Recent actions", zone=tz)
        for action in actions:
            grid.add_row(
                short_time(action.get("scheduled_time"), tz),
                short_time(action.get("started_at"), tz),
                str(action.get("run_id") or "-"),
                styled_status(action.get("status")) if action.get("status") else "-",
                action.get("backfill_id") or "",
            )
        console.print(grid)


def schedule_body(
    cron: str | None,
    every: str | None,
    offset: str | None,
    tz: str,
    input: str | None,
    overlap: str | None,
    catchup_window: str | None,
    jitter: str | None,
    paused: bool,
    note: str | None,
    version: int | None,
) -> dict[str, Any]:
    """The body of ``PUT .../schedule`` from the options of ``schedule set``."""
    if (cron is None) == (every is None):
        fail("give exactly one of --cron EXPR and --every INTERVAL")
    body: dict[str, Any] = {"timezone": tz, "paused": paused}
    for key, value in (
        ("cron", cron),
        ("interval", every),
        ("offset", offset),
        ("overlap", overlap_policy(overlap)),
        ("catchup_window", catchup_window),
        ("jitter", jitter),
        ("note", note),
        ("version", version),
    ):
        if value is not None:
            body[key] = value
    if input is not None:
        body["input"] = parse_json_arg(input, "--input")
    return body


@app.command("set")
def set_schedule(
    task: str = typer.Argument(..., help="Task id or cy_name"),
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
        None, "--version", "-v", min=1, help="Run this task version on every fire (default: the current one)"
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Create or replace a task's schedule."""
    body = schedule_body(cron, every, offset, tz, input, overlap, catchup_window, jitter, paused, note, version)
    with api_call(), output.client() as api:
        schedule = api.request("PUT", _base(task), json=body)
    print_json(schedule) if as_json else render(schedule)


@app.command("show")
def show(task: str = typer.Argument(..., help="Task id or cy_name"), as_json: bool = JsonOpt) -> None:
    """The schedule, its next fire times and its recent actions with their runs."""
    with api_call(), output.client() as api:
        schedule = api.request("GET", _base(task))
    print_json(schedule) if as_json else render(schedule)


@app.command("pause")
def pause(task: str = typer.Argument(...), note: Optional[str] = NoteOpt, as_json: bool = JsonOpt) -> None:
    """Pause the schedule (no fires until unpaused)."""
    with api_call(), output.client() as api:
        schedule = api.request("POST", _base(task) + "/pause", json={"note": note})
    print_json(schedule) if as_json else render(schedule)


@app.command("unpause")
def unpause(task: str = typer.Argument(...), note: Optional[str] = NoteOpt, as_json: bool = JsonOpt) -> None:
    """Resume the schedule."""
    with api_call(), output.client() as api:
        schedule = api.request("POST", _base(task) + "/unpause", json={"note": note})
    print_json(schedule) if as_json else render(schedule)


@app.command("trigger")
def trigger(
    task: str = typer.Argument(...),
    overlap: Optional[str] = typer.Option(None, "--overlap", help="Override the overlap policy for this run"),
    as_json: bool = JsonOpt,
) -> None:
    """Run the scheduled task now."""
    body = {"overlap": overlap_policy(overlap)} if overlap else None
    with api_call(), output.client() as api:
        result = api.request("POST", _base(task) + "/trigger", json=body)
    if as_json:
        print_json(result)
    elif result.get("run_id"):
        console.print(f"triggered: run [bold]{result['run_id']}[/]", highlight=False)
    else:
        console.print(f"triggered at {format_time(result['triggered_at'])}", highlight=False)


def _when(value: str, option: str) -> str:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option} must be an ISO 8601 time such as 2026-01-05T07:00:00Z, got {value!r}")
    return value


@app.command("backfill")
def backfill(
    task: str = typer.Argument(...),
    start: str = typer.Option(..., "--from", help="Start of the range (ISO 8601, UTC when no offset)"),
    end: str = typer.Option(..., "--to", help="End of the range (ISO 8601, not in the future)"),
    overlap: Optional[str] = typer.Option(None, "--overlap", help="Among backfilled runs (default allow-all)"),
    as_json: bool = JsonOpt,
) -> None:
    """Run every fire time of a past range now; the runs are marked as a backfill."""
    body: dict[str, Any] = {"start": _when(start, "--from"), "end": _when(end, "--to")}
    if overlap:
        body["overlap"] = overlap_policy(overlap)
    with api_call(), output.client() as api:
        result = api.request("POST", _base(task) + "/backfill", json=body)
    if as_json:
        print_json(result)
    else:
        console.print(
            f"backfill [bold]{result['backfill']['id']}[/]: {result['expected_runs']} runs requested", highlight=False
        )


@app.command("delete")
def delete(task: str = typer.Argument(...)) -> None:
    """Remove the schedule (its runs are kept)."""
    with api_call(), output.client() as api:
        api.request("DELETE", _base(task))
    console.print("schedule deleted")
