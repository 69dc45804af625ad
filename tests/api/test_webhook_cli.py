"""`cytasks hook ...` against the API served over HTTP; a delivery signed with the secret the
CLI printed starts a run."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from api_test_helpers import requires_engine
from cli import hook_commands, task_commands

pytestmark = [pytest.mark.stack]

ROOT = typer.Typer(no_args_is_help=True)
ROOT.add_typer(task_commands.app, name="task")
ROOT.add_typer(hook_commands.app, name="hook")


@pytest.fixture
def cli(live_server: str, api_settings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CYTASKS_URL", live_server)
    monkeypatch.setenv("CYTASKS_API_KEY", api_settings.API_KEY)
    monkeypatch.setenv("COLUMNS", "250")
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(ROOT, list(args), catch_exceptions=False)

    return invoke


@requires_engine
async def test_create_list_deliver_rotate_and_delete(api_worker, cli, live_server: str, tmp_path: Path, unique: str) -> None:
    script = tmp_path / "echo.cy"
    script.write_text("return input.body")
    name = f"cli_hook_{unique}"
    made = await asyncio.to_thread(cli, "task", "create", name, str(script), "--cy-name", name, "--json")
    assert made.exit_code == 0, made.output

    created = await asyncio.to_thread(
        cli, "hook", "create", name, "--name", "ci", "--header", "X-Event", "--dedup-key", "/id"
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("whsec_") and "shown only now" in created.stderr
    hook_id = created.stderr.split("Created hook ")[1].split()[0]

    listed = await asyncio.to_thread(cli, "hook", "list", name)
    assert listed.exit_code == 0 and hook_id in listed.stdout and "x-event" in listed.stdout
    assert secret not in listed.stdout
    shown = await asyncio.to_thread(cli, "hook", "show", hook_id)
    assert json.loads(shown.stdout)["dedup_key"] == "/id" and secret not in shown.stdout

    body = b'{"id": 7}'
    stamp = str(int(time.time()))
    signature = "sha256=" + hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    async with httpx.AsyncClient(base_url=live_server) as http:
        delivered = await http.post(
            f"/v1/hooks/{hook_id}",
            content=body,
            headers={"Content-Type": "application/json", "X-Cytasks-Timestamp": stamp, "X-Cytasks-Signature": signature},
        )
    assert delivered.status_code == 202, delivered.text

    rotated = await asyncio.to_thread(cli, "hook", "rotate", hook_id)
    assert rotated.exit_code == 0 and rotated.stdout.strip() not in ("", secret)

    deleted = await asyncio.to_thread(cli, "hook", "delete", hook_id)
    assert deleted.exit_code == 0
    gone = await asyncio.to_thread(cli, "hook", "show", hook_id)
    assert gone.exit_code != 0 and "No webhook" in gone.output

    refused = await asyncio.to_thread(cli, "hook", "create", name, "--auth", "password")
    assert refused.exit_code != 0 and "auth" in refused.output
