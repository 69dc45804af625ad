"""`cytasks rule ...` and `cytasks alert ...` against the API served over HTTP."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli import alert_commands, rule_commands, task_commands
from test_events_e2e import FAILING, Receiver, deliveries, execute

pytestmark = [pytest.mark.stack, pytest.mark.asyncio(loop_scope="session")]

ROOT = typer.Typer(no_args_is_help=True)
ROOT.add_typer(task_commands.app, name="task")
ROOT.add_typer(rule_commands.app, name="rule")
ROOT.add_typer(alert_commands.app, name="alert")


@pytest.fixture
def cli(live_server: str, api_settings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CYTASKS_URL", live_server)
    monkeypatch.setenv("CYTASKS_API_KEY", api_settings.API_KEY)
    monkeypatch.setenv("COLUMNS", "250")
    runner = CliRunner()

    async def invoke(*args: str):
        return await asyncio.to_thread(runner.invoke, ROOT, list(args), catch_exceptions=False)

    return invoke


async def make_task(cli, tmp_path: Path, name: str, script: str) -> dict:
    path = tmp_path / f"{name}.cy"
    path.write_text(script)
    created = await cli("task", "create", name, str(path), "--cy-name", name, "--json")
    assert created.exit_code == 0, created.output
    return json.loads(created.stdout)


async def test_rules_from_the_command_line(api_worker, client, cli, tmp_path: Path, unique: str) -> None:
    source = await make_task(cli, tmp_path, f"cli_src_{unique}", FAILING)
    target = await make_task(cli, tmp_path, f"cli_tgt_{unique}", "return input.status")
    created = await cli(
        "rule", "create", f"cli-rule-{unique}", "--event", "run.failed", "--task", source["cy_name"],
        "--target", target["cy_name"], "--match", "/depth=0", "--match", "/trigger=api", "--json",
    )
    assert created.exit_code == 0, created.output
    rule = json.loads(created.stdout)
    assert rule["match"] == [{"pointer": "/depth", "equals": 0}, {"pointer": "/trigger", "equals": "api"}]

    listed = await cli("rule", "list", "--task", source["id"])
    assert listed.exit_code == 0 and f"cli-rule-{unique}" in listed.stdout and "/depth=0" in listed.stdout
    shown = await cli("rule", "get", rule["id"])
    assert json.loads(shown.stdout)["target"] == {"task_id": target["id"]}

    failed = await execute(client, source)
    [delivery] = await deliveries(client, f"/v1/event-rules/{rule['id']}", 1)
    shown = await cli("rule", "deliveries", rule["id"])
    assert shown.exit_code == 0 and failed["id"] in shown.stdout and "delivered" in shown.stdout
    assert delivery["target_run_id"] in shown.stdout

    refused = await cli("rule", "create", f"bad-{unique}", "--event", "run.exploded", "--target", target["cy_name"])
    assert refused.exit_code != 0 and "run.exploded" in refused.output
    assert (await cli("rule", "delete", rule["id"])).exit_code == 0
    gone = await cli("rule", "get", rule["id"])
    assert gone.exit_code != 0 and "No event rule" in gone.output


async def test_a_rule_with_a_workflow_target_from_the_command_line(api_worker, client, cli, tmp_path: Path, unique: str) -> None:
    step = await make_task(cli, tmp_path, f"cli_wf_step_{unique}", "return input.type")
    workflow = await client.post("/v1/workflows", json={"name": f"cli-flow-{unique}", "nodes": [{"id": "s", "task": step["cy_name"]}], "edges": []})
    assert workflow.status_code == 201, workflow.text
    created = await cli(
        "rule", "create", f"cli-wf-rule-{unique}", "--event", "question.created", "--task", step["cy_name"],
        "--target-workflow", f"cli-flow-{unique}", "--json",
    )
    assert created.exit_code == 0, created.output
    rule = json.loads(created.stdout)
    assert rule["target"] == {"workflow_id": workflow.json()["id"]} and rule["event"] == ["question.created"]
    listed = await cli("rule", "list")
    assert listed.exit_code == 0 and f"workflow {workflow.json()['id']}" in listed.stdout
    both = await cli("rule", "create", f"cli-both-{unique}", "--event", "run.failed", "--target", step["cy_name"], "--target-workflow", "x")
    assert both.exit_code != 0 and "name one target" in both.output
    neither = await cli("rule", "create", f"cli-none-{unique}", "--event", "run.failed")
    assert neither.exit_code != 0 and "name one target" in neither.output
    missing = await cli("rule", "create", f"cli-missing-{unique}", "--event", "run.failed", "--target-workflow", f"nope-{unique}")
    assert missing.exit_code != 0 and "target.workflow_id" in missing.output
    assert (await cli("rule", "delete", rule["id"])).exit_code == 0


async def test_alerts_from_the_command_line(api_worker, client, cli, tmp_path: Path, unique: str) -> None:
    receiver = Receiver()
    try:
        task = await make_task(cli, tmp_path, f"cli_alerted_{unique}", FAILING)
        created = await cli(
            "alert", "create", f"cli-alert-{unique}", "--url", receiver.url, "--task", task["cy_name"],
            "--on", "failed", "--format", "slack", "--secret", "k", "--json",
        )
        assert created.exit_code == 0, created.output
        alert = json.loads(created.stdout)
        assert alert["format"] == "slack" and alert["has_secret"] and alert["on"] == ["failed"]
        listed = await cli("alert", "list", "--task", task["id"])
        assert f"cli-alert-{unique}" in listed.stdout and "slack" in listed.stdout and "k" not in listed.stdout.split()

        failed = await execute(client, task)
        await deliveries(client, f"/v1/alerts/{alert['id']}", 1)
        shown = await cli("alert", "deliveries", alert["id"])
        assert shown.exit_code == 0 and failed["id"] in shown.stdout and "delivered" in shown.stdout
        assert len(receiver.requests) == 1 and "blocks" in json.loads(receiver.requests[0][1])
        assert (await cli("alert", "delete", alert["id"])).exit_code == 0
        assert (await cli("alert", "delete", alert["id"])).exit_code != 0
        late = await cli("alert", "create", f"cli-late-{unique}", "--url", receiver.url, "--late-over", "90", "--question-over", "600", "--no-run-ends", "--json")
        assert late.exit_code == 0, late.output
        made = json.loads(late.stdout)
        assert made["on"] == [] and made["schedule_late_over_seconds"] == 90 and made["question_waiting_over_seconds"] == 600
        listed = await cli("alert", "list")
        assert "late > 90 s" in listed.stdout and "question > 600 s" in listed.stdout
        assert (await cli("alert", "delete", made["id"])).exit_code == 0
    finally:
        receiver.close()
