"""The `task`, `run`, `exec` and `runs` commands against the API served over HTTP."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from api_test_helpers import engine_importable, requires_engine
from cli import run_commands, task_commands

pytestmark = [pytest.mark.stack]


def build_root() -> typer.Typer:
    root = typer.Typer(no_args_is_help=True)
    root.add_typer(task_commands.app, name="task")
    root.add_typer(run_commands.app, name="runs")
    run_commands.register_commands(root)
    return root


ROOT = build_root()


@pytest.fixture
def cli(live_server: str, api_settings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CYTASKS_URL", live_server)
    monkeypatch.setenv("CYTASKS_API_KEY", api_settings.API_KEY)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(ROOT, list(args), input=input, catch_exceptions=False)

    return invoke


def test_task_lifecycle(cli, tmp_path: Path, unique: str) -> None:
    script = tmp_path / "greet.cy"
    script.write_text('return "hi " + input.name')
    created = cli(
        "task", "create", f"CLI Greeter {unique}", str(script),
        "--description", "says hi",
        "--input-schema", '{"type": "object", "required": ["name"]}',
        "--json",
    )
    assert created.exit_code == 0, created.output
    task = json.loads(created.stdout)
    assert task["cy_name"] == f"cli_greeter_{unique}"
    assert task["input_schema"] == {"type": "object", "required": ["name"]}

    listed = cli("task", "list", "--name", unique)
    assert listed.exit_code == 0, listed.output
    assert task["cy_name"] in listed.stdout

    shown = cli("task", "show", task["cy_name"])
    assert shown.exit_code == 0, shown.output
    assert "says hi" in shown.stdout
    assert "input.name" in shown.stdout

    script.write_text('return "hello " + input.name')
    updated = cli("task", "update", task["cy_name"], "--script", str(script))
    assert updated.exit_code == 0, updated.output
    assert "version 2" in updated.stdout

    versions = cli("task", "versions", task["cy_name"], "--json")
    assert [v["version"] for v in json.loads(versions.stdout)] == [2, 1]

    archived = cli("task", "archive", task["cy_name"])
    assert archived.exit_code == 0, archived.output
    again = cli("task", "show", task["id"], "--json")
    assert json.loads(again.stdout)["status"] == "archived"


def test_problems_are_printed_readably(cli, tmp_path: Path) -> None:
    missing = cli("task", "show", "no_such_task_here")
    assert missing.exit_code == 1
    assert "Resource not found" in missing.stderr
    assert "HTTP 404" in missing.stderr
    assert "no_such_task_here" in missing.stderr

    script = tmp_path / "x.cy"
    script.write_text("return 1")
    bad_schema = cli("task", "create", "bad schema", str(script), "--input-schema", '{"type": 12}')
    assert bad_schema.exit_code == 1
    assert "Invalid JSON Schema" in bad_schema.stderr
    assert "input_schema" in bad_schema.stderr


def test_bad_json_input_is_rejected_locally(cli) -> None:
    result = cli("run", "anything", "--input", "{not json")
    assert result.exit_code == 1
    assert "not valid JSON" in result.stderr


def test_unreachable_server_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from devstack.ports import find_free_port

    monkeypatch.setenv("CYTASKS_URL", f"http://127.0.0.1:{find_free_port()}")
    result = CliRunner().invoke(ROOT, ["task", "list"])
    assert result.exit_code == 1
    assert "cannot reach the cytasks API" in result.stderr


def test_input_schema_failure_names_the_path(cli, unique: str, tmp_path: Path) -> None:
    script = tmp_path / "s.cy"
    script.write_text("return input.n")
    schema = '{"type": "object", "properties": {"n": {"type": "integer"}}}'
    created = cli("task", "create", f"Typed {unique}", str(script), "--input-schema", schema, "--json")
    cy_name = json.loads(created.stdout)["cy_name"]
    result = cli("run", cy_name, "--input", '{"n": "seven"}')
    assert result.exit_code == 1
    assert "$.n" in result.stderr


@requires_engine
def test_run_without_wait_prints_the_run(cli, unique: str, tmp_path: Path) -> None:
    script = tmp_path / "s.cy"
    script.write_text("return 1")
    cy_name = json.loads(cli("task", "create", f"Nowait {unique}", str(script), "--json").stdout)["cy_name"]
    started = cli("run", cy_name, "--json")
    assert started.exit_code == 0, started.output
    run = json.loads(started.stdout)
    assert run["trigger"] == "cli"

    shown = cli("runs", "show", run["id"], "--json")
    assert json.loads(shown.stdout)["id"] == run["id"]
    listed = cli("runs", "list", "--task", cy_name, "--json")
    assert [r["id"] for r in json.loads(listed.stdout)] == [run["id"]]
    logs = cli("runs", "logs", run["id"])
    assert logs.exit_code == 0


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.skipif(not engine_importable(), reason="taskrun.client / the worker are not importable yet")
async def test_run_and_exec_wait_for_the_result(api_worker, cli, unique: str, tmp_path: Path) -> None:
    script = tmp_path / "double.cy"
    script.write_text("return {\"doubled\": input.n * 2}")
    created = await asyncio.to_thread(cli, "task", "create", f"Waited {unique}", str(script), "--json")
    cy_name = json.loads(created.stdout)["cy_name"]

    inputs = tmp_path / "input.json"
    inputs.write_text('{"n": 4}')
    result = await asyncio.to_thread(cli, "run", cy_name, "--input", f"@{inputs}", "--wait")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"doubled": 8}

    failing = tmp_path / "fail.cy"
    failing.write_text("x = 1\ny = x / 0\nreturn y")
    result = await asyncio.to_thread(cli, "exec", str(failing), "--wait")
    assert result.exit_code == 1
    assert "failed" in result.stderr
    assert "line 2" in result.stderr

    result = await asyncio.to_thread(cli, "exec", str(script), "--input", '{"n": 5}', "--wait", "--json")
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    assert run["trigger"] == "cli" and run["output"] == {"doubled": 10}


@requires_engine
async def test_runs_logs_follow_prints_lines_as_they_come_until_the_run_ends(api_worker, cli, tmp_path: Path) -> None:
    script = tmp_path / "slow.cy"
    script.write_text('log("first")\nsleep(2)\nlog("second")\nreturn 1')
    started = await asyncio.to_thread(cli, "exec", str(script), "--json")
    assert started.exit_code == 0, started.output
    run_id = json.loads(started.stdout)["id"]
    followed = await asyncio.wait_for(asyncio.to_thread(cli, "runs", "logs", run_id, "--follow"), 60)
    assert followed.exit_code == 0, followed.output
    lines = [line for line in followed.stdout.splitlines() if line.strip()]
    assert [line.split()[-1] for line in lines] == ["first", "second"]
    assert "completed" in followed.stderr


@pytest.mark.asyncio(loop_scope="session")
@requires_engine
async def test_runs_list_at_80_columns_names_tasks_and_keeps_statuses_whole(
    api_worker, cli, live_server: str, api_settings, unique: str, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    script = tmp_path / "one.cy"
    script.write_text("return 1")
    created = await asyncio.to_thread(cli, "task", "create", f"Narrow {unique}", str(script), "--json")
    task = json.loads(created.stdout)
    waited = await asyncio.to_thread(cli, "run", task["cy_name"], "--wait")
    assert waited.exit_code == 0, waited.output
    assert re.search(r"completed in \d+(\.\d)? (ms|s)\b|completed in \d+ min \d+ s", waited.stderr), waited.stderr

    env = {**os.environ, "CYTASKS_URL": live_server, "CYTASKS_API_KEY": api_settings.API_KEY, "COLUMNS": "80"}
    listed = await asyncio.to_thread(
        subprocess.run,
        [str(Path(sys.executable).parent / "cytasks"), "runs", "list", "--task", task["cy_name"]],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), listed.stdout
    assert "created (UTC)" in lines[0] and "task" in lines[0]
    assert task["cy_name"][:10] in listed.stdout and task["id"] not in listed.stdout
    assert " completed " in listed.stdout + " " and "…" not in listed.stdout

    wide = await asyncio.to_thread(
        subprocess.run,
        [str(Path(sys.executable).parent / "cytasks"), "runs", "list", "--task", task["cy_name"]],
        env={**env, "COLUMNS": "160"}, capture_output=True, text=True, timeout=60,
    )
    assert f"{task['cy_name']} v1" in wide.stdout and "duration" in wide.stdout and "trigger" in wide.stdout
