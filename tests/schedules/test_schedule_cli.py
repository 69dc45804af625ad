"""`cytasks schedule ...` against the API served over HTTP."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
import typer
from typer.testing import CliRunner

from cli import schedule_commands

pytestmark = [pytest.mark.stack]


@pytest.fixture(scope="module")
def served(sched_settings):
    import uvicorn

    from api.main import create_app
    from devstack.ports import find_free_port

    port = find_free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(sched_settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture
def cli(served, sched_settings, monkeypatch):
    monkeypatch.setenv("CYTASKS_URL", served)
    monkeypatch.setenv("CYTASKS_API_KEY", sched_settings.API_KEY)
    monkeypatch.setenv("COLUMNS", "200")
    root = typer.Typer()
    root.add_typer(schedule_commands.app, name="schedule")
    runner = CliRunner()
    return lambda *args: runner.invoke(root, list(args), catch_exceptions=False)


async def test_schedule_commands(cli, make_task) -> None:
    task = await make_task("return input", input_schema={"type": "object"})
    name = task["cy_name"]
    result = cli(
        "schedule", "set", name, "--cron", "0 7 * * 1-5", "--tz", "Europe/Paris", "--input", '{"a": 1}',
        "--overlap", "buffer-one", "--json",
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert (body["cron"], body["timezone"], body["overlap"], body["input"]) == (
        "0 7 * * 1-5", "Europe/Paris", "buffer_one", {"a": 1}
    )
    shown = cli("schedule", "show", name)
    assert shown.exit_code == 0 and "0 7 * * 1-5" in shown.stdout and "Europe/Paris" in shown.stdout
    assert "next fires (Europe/Paris):" in shown.stdout
    fires = [line.strip() for line in shown.stdout.splitlines() if line.startswith("    20")]
    assert fires and all(line.endswith((" 07:00:00 CET", " 07:00:00 CEST")) for line in fires), shown.stdout
    paused = cli("schedule", "pause", name, "--note", "holidays")
    assert paused.exit_code == 0 and "paused" in paused.stdout and "holidays" in paused.stdout
    unpaused = cli("schedule", "unpause", name)
    assert "active" in unpaused.stdout and "holidays" not in unpaused.stdout
    assert json.loads(cli("schedule", "show", name, "--json").stdout)["note"] is None
    cli("schedule", "pause", name, "--note", "again")
    kept = json.loads(cli("schedule", "unpause", name, "--note", "back from holidays", "--json").stdout)
    assert kept["note"] == "back from holidays"

    bad = cli("schedule", "set", name, "--cron", "0 25 * * *")
    assert bad.exit_code == 1
    assert "hour must be 0-23" in bad.output
    assert cli("schedule", "set", name, "--every", "5m", "--overlap", "often").exit_code == 1
    assert cli("schedule", "set", name).exit_code == 1

    no_input = cli("schedule", "set", name, "--every", "1h", "--offset", "15m")
    assert no_input.exit_code == 1 and "input" in no_input.output  # the input_schema wants an object
    assert cli("schedule", "set", name, "--every", "1h", "--offset", "15m", "--input", "{}").exit_code == 0
    assert "every 1h" in cli("schedule", "show", name).stdout
    backfill = cli("schedule", "backfill", name, "--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T02:00:00Z", "--json")
    assert backfill.exit_code == 0, backfill.output
    assert json.loads(backfill.stdout)["expected_runs"] == 2  # 00:15 and 01:15
    assert cli("schedule", "delete", name).exit_code == 0
    missing = cli("schedule", "show", name)
    assert missing.exit_code == 1 and "has no schedule" in missing.output
    assert cli("schedule", "show", f"nope_{uuid.uuid4().hex[:6]}").exit_code == 1


async def test_workflow_schedule_commands(served, sched_settings, monkeypatch, make_workflow) -> None:
    from cli import workflow_commands

    monkeypatch.setenv("CYTASKS_URL", served)
    monkeypatch.setenv("CYTASKS_API_KEY", sched_settings.API_KEY)
    monkeypatch.setenv("COLUMNS", "200")
    root = typer.Typer()
    root.add_typer(workflow_commands.app, name="workflow")
    runner = CliRunner()

    def cli(*args: str):
        return runner.invoke(root, list(args), catch_exceptions=False)

    name = (await make_workflow())["name"]
    result = cli(
        "workflow", "schedule", "set", name, "--cron", "0 7 * * 1-5", "--tz", "Europe/Paris",
        "--input", '{"n": 1}', "--overlap", "buffer-one", "--json",
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert (body["workflow"], body["cron"], body["timezone"], body["overlap"], body["input"]) == (
        name, "0 7 * * 1-5", "Europe/Paris", "buffer_one", {"n": 1}
    )
    shown = cli("workflow", "schedule", "show", name)
    assert shown.exit_code == 0 and name in shown.stdout and "next fires (Europe/Paris):" in shown.stdout
    paused = cli("workflow", "schedule", "pause", name, "--note", "holidays")
    assert paused.exit_code == 0 and "paused" in paused.stdout and "holidays" in paused.stdout
    assert "active" in cli("workflow", "schedule", "unpause", name).stdout
    bad = cli("workflow", "schedule", "set", name, "--cron", "0 25 * * *")
    assert bad.exit_code == 1 and "hour must be 0-23" in bad.output
    assert cli("workflow", "schedule", "set", name, "--every", "5m", "--input", '{"n": "x"}').exit_code == 1
    assert cli("workflow", "schedule", "delete", name).exit_code == 0
    missing = cli("workflow", "schedule", "show", name)
    assert missing.exit_code == 1 and "has no schedule" in missing.output
