"""`cytasks questions list`, `cytasks respond` and `cytasks run --wait` on a paused run."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from typer.testing import CliRunner

from hitl_helpers import wait_question, wait_status

pytestmark = [pytest.mark.stack, pytest.mark.asyncio(loop_scope="session")]


@pytest.fixture(scope="module")
def live_server(hitl_settings, hitl_worker):
    import uvicorn

    from api.main import create_app
    from devstack.ports import find_free_port

    port = find_free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(hitl_settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
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
def cli(live_server, hitl_settings, monkeypatch):
    from cli.main import app

    monkeypatch.setenv("CYTASKS_URL", live_server)
    monkeypatch.setenv("CYTASKS_API_KEY", hitl_settings.API_KEY)
    monkeypatch.setenv("COLUMNS", "250")
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args), catch_exceptions=False)


async def test_run_wait_shows_the_question_and_respond_answers_it(cli, api, unique):
    task = (
        await api.post(
            "/v1/tasks",
            json={"name": f"CLI ask {unique}", "script": 'return app::human::ask("Release ${input}?", responses="yes,no")'},
        )
    ).json()
    result: dict = {}

    def follow() -> None:
        result["run"] = cli("run", task["cy_name"], "--input", '"v9"', "--wait")

    follower = threading.Thread(target=follow)
    follower.start()
    run_id = None
    for _ in range(400):
        items = (await api.get("/v1/questions", params={"task": task["id"], "status": "pending"})).json()["items"]
        if items:
            run_id = items[0]["run_id"]
            break
        await asyncio.sleep(0.05)
    assert run_id, "the run never asked its question"
    await wait_question(api, run_id)
    await asyncio.sleep(1.0)  # let `run --wait` poll the paused run at least once

    listed = cli("questions", "list", "--status", "pending", "--task", task["cy_name"])
    assert listed.exit_code == 0, listed.output
    assert "Release v9?" in listed.output and run_id in listed.output

    wrong = cli("respond", run_id, "--answer", "maybe")
    assert wrong.exit_code == 1
    assert "'maybe' is not one of the allowed responses" in wrong.output

    answered = cli("respond", run_id, "--answer", "yes")
    assert answered.exit_code == 0, answered.output
    assert 'Answered question' in answered.output and '"yes"' in answered.output

    await asyncio.to_thread(follower.join, 60)
    waited = result["run"]
    assert waited.exit_code == 0, waited.output
    assert "is waiting for an answer" in waited.output
    assert "Release v9?" in waited.output
    assert f"cytasks respond {run_id}" in waited.output
    assert json.loads(waited.stdout) == "yes"
    await wait_status(api, run_id, "completed")

    as_json = json.loads(cli("questions", "list", "--run", run_id, "--json").stdout)
    assert [(q["status"], q["answer"], q["answered_by"]) for q in as_json] == [("answered", "yes", "bootstrap-admin")]
    audit_source = (await api.get(f"/v1/questions/{as_json[0]['id']}")).json()["answer_source"]
    assert audit_source == "cli"
