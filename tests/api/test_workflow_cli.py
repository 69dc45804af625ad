"""`cytasks workflow ...` against the API served over HTTP."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from api_test_helpers import requires_engine
from cli import task_commands, workflow_commands

pytestmark = [pytest.mark.stack]

ROOT = typer.Typer(no_args_is_help=True)
ROOT.add_typer(task_commands.app, name="task")
ROOT.add_typer(workflow_commands.app, name="workflow")


@pytest.fixture
def cli(live_server: str, api_settings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CYTASKS_URL", live_server)
    monkeypatch.setenv("CYTASKS_API_KEY", api_settings.API_KEY)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(ROOT, list(args), catch_exceptions=False)

    return invoke


def make_task(cli, tmp_path: Path, name: str, script: str) -> str:
    path = tmp_path / f"{name}.cy"
    path.write_text(script)
    created = cli("task", "create", name, str(path), "--cy-name", name, "--json")
    assert created.exit_code == 0, created.output
    return name


@requires_engine
async def test_create_from_yaml_run_with_wait_list_and_show(api_worker, cli, tmp_path: Path, unique: str) -> None:
    double = await asyncio.to_thread(make_task, cli, tmp_path, f"wf_double_{unique}", "return input.n * 2")
    broken = await asyncio.to_thread(make_task, cli, tmp_path, f"wf_broken_{unique}", "return 1 / 0")
    definition = tmp_path / "flow.yaml"
    definition.write_text(
        f"name: cli-flow-{unique}\n"
        "description: doubles n\n"
        "nodes:\n"
        f"  - {{id: twice, task: {double}}}\n"
        "edges: []\n"
    )
    created = await asyncio.to_thread(cli, "workflow", "create", str(definition), "--json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["version"] == 1

    ran = await asyncio.to_thread(cli, "workflow", "run", f"cli-flow-{unique}", "--input", '{"n": 21}', "--wait")
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.stdout) == 42
    assert "twice:" in ran.stderr and "completed" in ran.stderr

    shown = await asyncio.to_thread(cli, "workflow", "show", f"cli-flow-{unique}")
    assert shown.exit_code == 0 and "twice" in shown.stdout and double in shown.stdout

    listed = await asyncio.to_thread(cli, "workflow", "runs", "list", "--workflow", f"cli-flow-{unique}", "--json")
    assert [run["status"] for run in json.loads(listed.stdout)["items"]] == ["completed"]

    definition.write_text(f"name: cli-broken-{unique}\nnodes:\n  - {{id: boom, task: {broken}}}\n")
    assert (await asyncio.to_thread(cli, "workflow", "create", str(definition))).exit_code == 0
    failed = await asyncio.to_thread(cli, "workflow", "run", f"cli-broken-{unique}", "--wait")
    assert failed.exit_code == 1
    assert "NodeFailed" in failed.stderr


def test_invalid_definitions_are_explained(cli, tmp_path: Path, unique: str) -> None:
    definition = tmp_path / "bad.yaml"
    definition.write_text(f"name: bad-{unique}\nnodes:\n  - {{id: a, task: no_such_task_{unique}}}\n")
    result = cli("workflow", "create", str(definition))
    assert result.exit_code == 1
    assert "nodes[0].task" in result.stderr
    definition.write_text("nodes: [unclosed")
    result = cli("workflow", "create", str(definition))
    assert result.exit_code == 1 and "not valid YAML or JSON" in result.stderr
