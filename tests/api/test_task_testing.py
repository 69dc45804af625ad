"""Testing tasks through the API and the CLI: samples with expectations and canned tool results,
replay of real runs with their recorded tool results, batch replay, and test_on_save. Where a
real tool would be called, a local HTTP server counts the calls: tests and replays make none."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
import uvicorn
from fastapi import FastAPI
from typer.testing import CliRunner

from api_test_helpers import assert_problem, requires_engine
from cli import task_commands
from devstack.ports import find_free_port

pytestmark = [pytest.mark.stack]

SCORE_SCRIPT = """ip = input.ip
r = app::http::request("GET", "${input.base}/score/${ip}")
log("score ${r.body.score}")
sleep(5)
return {"ip": ip, "score": r.body.score, "risky": r.body.score > 50}
"""

ROOT = typer.Typer(no_args_is_help=True)
ROOT.add_typer(task_commands.app, name="task")


class ScoreServer:
    """A stand-in for an enrichment service: answers a score per IP and counts the calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        app = FastAPI()

        @app.get("/score/{ip}")
        async def score(ip: str) -> dict[str, Any]:
            self.calls.append(ip)
            return {"ip": ip, "score": int(ip.rsplit(".", 1)[-1])}

        @app.get("/report/{size}")
        async def report(size: int) -> dict[str, Any]:
            self.calls.append(f"report {size}")
            return {"text": "x" * size}

        self.port = find_free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "ScoreServer":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def scores():
    with ScoreServer() as server:
        yield server


def canned(score: int) -> dict[str, Any]:
    return {"app::http::request": {"result": {"status": 200, "headers": {}, "body": {"score": score}}}}


async def make_task(client: httpx.AsyncClient, unique: str, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Score {unique} {time.monotonic_ns()}", "script": SCORE_SCRIPT, **fields}
    response = await client.post("/v1/tasks", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_samples_pass_and_fail_with_structured_diffs(client, unique, scores):
    task = await make_task(
        client,
        unique,
        data_samples=[
            {
                "name": "exact and right",
                "input": {"ip": "10.0.0.7", "base": scores.url},
                "expected_output": {"ip": "10.0.0.7", "score": 7, "risky": False},
                "tool_results": canned(7),
            },
            {
                "name": "exact and wrong",
                "input": {"ip": "10.0.0.80", "base": scores.url},
                "expected_output": {"ip": "10.0.0.80", "score": 80, "risky": False, "owner": "it"},
                "tool_results": canned(80),
            },
            {
                "name": "schema and right",
                "input": {"ip": "10.0.0.90", "base": scores.url},
                "expected_output": {
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "type": "object",
                    "properties": {"risky": {"const": True}},
                },
                "tool_results": canned(90),
            },
            {
                "name": "schema and wrong",
                "input": {"ip": "10.0.0.3", "base": scores.url},
                "expected_output": {
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "type": "object",
                    "properties": {"score": {"minimum": 50}},
                },
                "tool_results": canned(3),
            },
        ],
    )
    response = await client.post(f"/v1/tasks/{task['cy_name']}/test", json={})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["version"] == 1 and report["samples_from"] == "task"
    assert report["summary"] == {"total": 4, "passed": 2, "failed": 2}
    right, wrong, schema_right, schema_wrong = report["items"]
    assert right["passed"] and right["status"] == "passed" and right["output"]["score"] == 7
    assert right["logs"] == ["score 7"]
    assert right["tool_calls"] == [
        {"tool": "app::http::request", "args": {"method": "GET", "url": f"{scores.url}/score/10.0.0.7"}, "line": 2, "column": 5},
        {"tool": "native::tools::sleep", "args": {"seconds": 5}, "line": 4, "column": 1},
    ]
    assert not wrong["passed"] and wrong["status"] == "failed"
    assert sorted(wrong["diff"], key=lambda entry: entry["path"]) == [
        {"path": "$.owner", "kind": "missing", "expected": "it"},
        {"path": "$.risky", "kind": "changed", "expected": False, "actual": True},
    ]
    assert "differs from expected_output at $.owner (and 1 more)" in wrong["reason"]
    assert schema_right["passed"]
    assert not schema_wrong["passed"] and schema_wrong["diff"] == []
    assert [f["path"] for f in schema_wrong["expectation_failures"]] == ["$.score"]
    assert scores.calls == []


async def test_a_tool_without_a_canned_result_fails_the_sample_naming_tool_and_line(client, unique, scores):
    task = await make_task(client, unique)
    script = 'try {\n  r = app::http::request("GET", "${input.base}/score/1.1.1.1")\n} catch (e) {\n  r = null\n}\nreturn llm_run("Summarise ${r}")'
    samples = [
        {"input": {"base": scores.url}},
        {"input": {"base": scores.url}, "tool_results": {**canned(1), "llm_run": [{"result": "fine"}]}},
    ]
    response = await client.post(f"/v1/tasks/{task['id']}/test", json={"script": script, "samples": samples})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["version"] is None and report["samples_from"] == "request"
    missing, complete = report["items"]
    assert not missing["passed"]
    assert missing["error"]["type"] == "MissingToolResult"
    assert (missing["error"]["line"], missing["error"]["column"]) == (2, 7)
    assert "'app::http::request'" in missing["error"]["message"] and "line 2" in missing["error"]["message"]
    assert complete["passed"] and complete["output"] == "fine"
    assert [call["tool"] for call in complete["tool_calls"]] == ["app::http::request", "native::tools::llm_run"]
    assert scores.calls == []


async def test_answers_in_order_by_arguments_and_errors_the_script_can_catch(client, unique):
    task = await make_task(client, unique, output_schema={"type": "array", "items": {"type": "string"}})
    script = (
        'a = app::human::ask("Block ${input}?", responses=["yes", "no"])\n'
        'b = llm_run("one")\nc = llm_run("two")\n'
        'try { llm_run("three") } catch (e) { c = c + "!" }\n'
        "return [a, b, c]"
    )
    samples = [
        {
            "input": "1.2.3.4",
            "expected_output": ["no", "B", "A!"],
            "tool_results": {
                "app::human::ask": {"result": "no"},
                "llm_run": [
                    {"when": {"prompt": "two"}, "result": "A"},
                    {"result": "B"},
                    {"when": {"prompt": "three"}, "error": "rate limited"},
                ],
            },
        },
        {"input": "x", "tool_results": {"app::human::ask": {"result": 1}, "llm_run": {"result": 2}}},
    ]
    report = (await client.post(f"/v1/tasks/{task['id']}/test", json={"script": script, "samples": samples})).json()
    ordered, bad_output = report["items"]
    assert ordered["passed"], ordered
    assert not bad_output["passed"] and bad_output["error"] is None and bad_output["output"] == [1, 2, 2]
    assert [f["path"] for f in bad_output["output_schema_failures"]] == ["$[0]", "$[1]", "$[2]"]
    assert "output_schema" in bad_output["reason"]

    schema_only = [{"input": "x", "tool_results": {"app::human::ask": {"result": 1}, "llm_run": {"result": "s"}}}]
    report = (await client.post(f"/v1/tasks/{task['id']}/test", json={"script": 'return [app::human::ask("q?"), 3]', "samples": schema_only})).json()
    [item] = report["items"]
    assert not item["passed"] and [f["path"] for f in item["output_schema_failures"]] == ["$[0]", "$[1]"]


async def test_bad_requests_name_the_field(client, unique):
    task = await make_task(client, unique)
    path = f"/v1/tasks/{task['id']}/test"
    both = assert_problem(await client.post(path, json={"version": 1, "script": "return 1"}), 422)
    assert both["errors"][0]["field"] == "script"
    version = assert_problem(await client.post(path, json={"version": 9}), 422)
    assert version["errors"][0]["field"] == "version"
    unknown_tool = assert_problem(
        await client.post(path, json={"samples": [{"input": 1, "tool_results": {"app::nope::x": {"result": 1}}}]}), 422
    )
    assert unknown_tool["errors"][0]["field"] == "samples[0].tool_results['app::nope::x']"
    shape = assert_problem(
        await client.post(path, json={"samples": [{"input": 1, "tool_results": {"llm_run": [{"value": 1}]}}]}), 422
    )
    assert shape["errors"][0]["field"] == "samples[0].tool_results.llm_run[0]"
    pure = assert_problem(
        await client.post(path, json={"samples": [{"tool_results": {"str::uppercase": {"result": "X"}}}]}), 422
    )
    assert "pure" in pure["detail"]
    bad_schema = assert_problem(
        await client.post(path, json={"samples": [{"expected_output": {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": 5}}]}),
        422,
    )
    assert bad_schema["errors"][0]["field"] == "samples[0].expected_output"
    extra = assert_problem(await client.post(path, json={"samples": [{"inputs": 1}]}), 422)
    assert "inputs" in extra["errors"][0]["field"]
    script = assert_problem(await client.post(path, json={"script": "return (("}), 422, "invalid-script")
    assert script["errors"][0]["line"] == 1
    stored = assert_problem(
        await client.patch(f"/v1/tasks/{task['id']}", json={"data_samples": [{"tool_results": {"llm_run": 3}}]}), 422
    )
    assert stored["errors"][0]["field"] == "data_samples[0].tool_results.llm_run"
    assert_problem(await client.post("/v1/tasks/no_such_task_here/test", json={}), 404)


async def test_test_on_save_refuses_a_version_whose_samples_fail(client, unique):
    samples = [{"input": {"ip": "10.0.0.9", "base": "http://unused"}, "expected_output": {"ip": "10.0.0.9", "score": 9, "risky": False}, "tool_results": canned(9)}]
    refused = assert_problem(
        await client.post(
            "/v1/tasks",
            json={"name": f"Gated {unique}", "script": "return 1", "data_samples": samples, "test_on_save": True},
        ),
        422,
        "task-tests-failed",
    )
    assert refused["summary"] == {"total": 1, "passed": 0, "failed": 1}
    assert refused["errors"][0]["field"] == "data_samples[0]"
    assert refused["items"][0]["diff"][0]["path"] == "$"

    task = await make_task(client, unique, data_samples=samples, test_on_save=True)
    assert task["test_on_save"] is True and task["version"] == 1
    broken = SCORE_SCRIPT.replace("r.body.score > 50", "r.body.score > 5")
    refused = assert_problem(await client.patch(f"/v1/tasks/{task['id']}", json={"script": broken}), 422, "task-tests-failed")
    assert refused["items"][0]["diff"] == [{"path": "$.risky", "kind": "changed", "expected": False, "actual": True}]
    assert (await client.get(f"/v1/tasks/{task['id']}")).json()["version"] == 1
    bad_samples = [{**samples[0], "expected_output": {"score": 10}}]
    assert_problem(await client.patch(f"/v1/tasks/{task['id']}", json={"data_samples": bad_samples}), 422, "task-tests-failed")

    fixed = SCORE_SCRIPT.replace('log("score ${r.body.score}")', 'log("checked")')
    accepted = await client.patch(f"/v1/tasks/{task['id']}", json={"script": fixed})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["version"] == 2
    off = await client.patch(f"/v1/tasks/{task['id']}", json={"script": broken, "test_on_save": False})
    assert off.status_code == 200 and off.json()["version"] == 3 and off.json()["test_on_save"] is False
    assert_problem(await client.patch(f"/v1/tasks/{task['id']}", json={"test_on_save": True}), 422, "task-tests-failed")
    assert_problem(await client.patch(f"/v1/tasks/{task['id']}", json={"test_on_save": None}), 422)


async def wait_done(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    for _ in range(20):
        run = (await client.get(f"/v1/task-runs/{run_id}", params={"wait": 30})).json()
        if run["status"] in ("completed", "failed", "cancelled", "timed_out"):
            return run
    raise AssertionError(f"run {run_id} did not end")


async def run_task(client: httpx.AsyncClient, task: dict[str, Any], input: Any) -> dict[str, Any]:
    started = await client.post(f"/v1/tasks/{task['id']}/execute", json={"input": input})
    assert started.status_code == 202, started.text
    return started.json()


@requires_engine
async def test_replay_of_a_real_run_calls_no_tool_and_shows_the_changed_output(api_worker, client, unique, scores):
    task = await make_task(client, unique)
    run = await wait_done(client, (await run_task(client, task, {"ip": "10.0.0.60", "base": scores.url}))["id"])
    assert run["status"] == "completed", run
    assert run["output"] == {"ip": "10.0.0.60", "score": 60, "risky": True}
    calls_before = len(scores.calls)
    assert calls_before >= 1

    same = await client.post(f"/v1/tasks/{task['id']}/replay", json={"run_id": run["id"]})
    assert same.status_code == 200, same.text
    assert same.json()["outcome"] == "same" and same.json()["recorded_calls"] == 1

    changed = SCORE_SCRIPT.replace("r.body.score > 50", "r.body.score > 75")
    different = (await client.post(f"/v1/tasks/{task['id']}/replay", json={"run_id": run["id"], "script": changed})).json()
    assert different["outcome"] == "different"
    assert different["diff"] == [{"path": "$.risky", "kind": "changed", "expected": True, "actual": False}]
    assert different["recorded_output"] == run["output"] and different["version"] is None
    assert different["tool_calls"][0]["args"]["url"] == f"{scores.url}/score/10.0.0.60"

    extra_call = SCORE_SCRIPT.replace("return", 'again = app::http::request("GET", "${input.base}/score/1.1.1.1")\nreturn')
    failed = (await client.post(f"/v1/tasks/{task['id']}/replay", json={"run_id": run["id"], "script": extra_call})).json()
    assert failed["outcome"] == "failed" and failed["error"]["type"] == "MissingToolResult"
    assert failed["error"]["line"] == 5 and "'app::http::request'" in failed["error"]["message"]

    updated = await client.patch(f"/v1/tasks/{task['id']}", json={"script": changed})
    assert updated.json()["version"] == 2
    by_version = (await client.post(f"/v1/tasks/{task['id']}/replay", json={"run_id": run["id"], "version": 2})).json()
    assert by_version["outcome"] == "different" and by_version["version"] == 2 and by_version["recorded_version"] == 1
    assert len(scores.calls) == calls_before

    other = await make_task(client, unique)
    assert_problem(await client.post(f"/v1/tasks/{other['id']}/replay", json={"run_id": run["id"]}), 422)


@requires_engine
async def test_replay_batch_over_twenty_runs(api_worker, client, unique, scores):
    task = await make_task(client, unique)
    started = [await run_task(client, task, {"ip": f"10.0.1.{n}", "base": scores.url}) for n in range(40, 60)]
    runs = [await wait_done(client, run["id"]) for run in started]
    assert {run["status"] for run in runs} == {"completed"}
    calls_before = len(scores.calls)

    changed = SCORE_SCRIPT.replace("r.body.score > 50", "r.body.score > 54")
    response = await client.post(f"/v1/tasks/{task['id']}/replay-batch", json={"last": 20, "script": changed})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["summary"] == {"total": 20, "same": 16, "different": 4, "failed": 0}
    assert report["more"] is False
    different = sorted(item["recorded_output"]["score"] for item in report["items"] if item["outcome"] == "different")
    assert different == [51, 52, 53, 54]
    assert {json.dumps(item["diff"]) for item in report["items"] if item["outcome"] == "different"} == {
        json.dumps([{"path": "$.risky", "kind": "changed", "expected": True, "actual": False}])
    }
    five = (await client.post(f"/v1/tasks/{task['id']}/replay-batch", json={"last": 5})).json()
    assert five["summary"]["total"] == 5 and five["summary"]["same"] == 5 and five["more"] is True
    # By time, not by text: a time on the second has no fraction ("...:07Z" sorts after "...:07.5Z").
    newest = max(runs, key=lambda run: datetime.fromisoformat(run["created_at"].replace("Z", "+00:00")))
    after = (await client.post(f"/v1/tasks/{task['id']}/replay-batch", json={"created_after": newest["created_at"]})).json()
    assert after["summary"]["total"] == 1 and after["items"][0]["run_id"] == newest["id"]
    backwards = await client.post(
        f"/v1/tasks/{task['id']}/replay-batch", json={"created_after": newest["created_at"], "created_before": "2020-01-01T00:00:00Z"}
    )
    assert assert_problem(backwards, 422)["errors"][0]["field"] == "created_before"
    assert len(scores.calls) == calls_before

    assert_problem(await client.post(f"/v1/tasks/{task['id']}/replay-batch", json={}), 422)


@pytest.fixture
def cli(live_server: str, api_settings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CYTASKS_URL", live_server)
    monkeypatch.setenv("CYTASKS_API_KEY", api_settings.API_KEY)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(ROOT, list(args), catch_exceptions=False)

    return invoke


async def test_cli_task_test_exit_codes(cli, client, unique, tmp_path: Path):
    samples = [{"name": "low", "input": {"ip": "10.0.0.9", "base": "http://unused"}, "expected_output": {"ip": "10.0.0.9", "score": 9, "risky": False}, "tool_results": canned(9)}]
    task = await make_task(client, unique, data_samples=samples)
    passing = await asyncio.to_thread(cli, "task", "test", task["cy_name"])
    assert passing.exit_code == 0, passing.output
    assert "1 passed, 0 failed" in passing.stdout

    script = tmp_path / "broken.cy"
    script.write_text(SCORE_SCRIPT.replace("r.body.score > 50", "r.body.score > 5"))
    failing = await asyncio.to_thread(cli, "task", "test", task["cy_name"], "--script", str(script))
    assert failing.exit_code == 1, failing.output
    assert "FAIL #0 low" in failing.stdout and "$.risky: expected false, actual true" in failing.stdout

    as_json = await asyncio.to_thread(cli, "task", "test", task["cy_name"], "--script", str(script), "--json")
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["summary"]["failed"] == 1
    missing = await asyncio.to_thread(cli, "task", "test", "no_such_task_here")
    assert missing.exit_code == 1 and "HTTP 404" in missing.stderr

    flagged = await asyncio.to_thread(cli, "task", "update", task["cy_name"], "--test-on-save", "--script", str(script))
    assert flagged.exit_code == 1 and "task-tests-failed" not in flagged.stdout and "data samples fail" in flagged.stderr


@requires_engine
async def test_cli_task_replay_exit_codes(api_worker, cli, client, unique, scores, tmp_path: Path):
    task = await make_task(client, unique)
    run = await wait_done(client, (await run_task(client, task, {"ip": "10.0.0.70", "base": scores.url}))["id"])
    same = await asyncio.to_thread(cli, "task", "replay", run["id"])
    assert same.exit_code == 0, same.output
    assert "SAME" in same.stdout
    script = tmp_path / "changed.cy"
    script.write_text(SCORE_SCRIPT.replace('"risky"', '"flagged"'))
    changed = await asyncio.to_thread(cli, "task", "replay", run["id"], "--script", str(script))
    assert changed.exit_code == 1, changed.output
    assert "DIFFERENT" in changed.stdout and "$.risky" in changed.stdout and "$.flagged" in changed.stdout


@requires_engine
async def test_replay_reads_local_tool_calls_and_answered_questions(api_worker, client, unique, scores):
    script = (
        'first = app::http::request("GET", "${input.base}/score/10.0.0.11", timeout=5)\n'
        'second = app::http::request("GET", "${input.base}/score/10.0.0.22", timeout=5)\n'
        'decision = app::human::ask("Block ${input.base}?", responses=["yes", "no"])\n'
        'return {"total": first.body.score + second.body.score, "decision": decision}'
    )
    created = await client.post("/v1/tasks", json={"name": f"Local {unique}", "script": script})
    task = created.json()
    run = await run_task(client, task, {"base": scores.url})
    for _ in range(200):
        current = (await client.get(f"/v1/task-runs/{run['id']}")).json()
        if current["status"] == "paused":
            break
        await asyncio.sleep(0.1)
    answered = await client.post(f"/v1/task-runs/{run['id']}/respond", json={"answer": "yes"})
    assert answered.status_code == 202, answered.text
    done = await wait_done(client, run["id"])
    assert done["output"] == {"total": 33, "decision": "yes"}, done
    calls_before = len(scores.calls)

    same = (await client.post(f"/v1/tasks/{task['id']}/replay", json={"run_id": run["id"]})).json()
    assert same["outcome"] == "same", same
    assert same["recorded_calls"] == 3
    swapped = script.replace("first.body.score + second.body.score", "first.body.score * 100 + second.body.score")
    different = (await client.post(f"/v1/tasks/{task['id']}/replay", json={"run_id": run["id"], "script": swapped})).json()
    assert different["diff"] == [{"path": "$.total", "kind": "changed", "expected": 33, "actual": 1122}]
    assert len(scores.calls) == calls_before


@requires_engine
async def test_replaying_needs_sight_of_the_run_payloads(api_worker, client, unique, scores):
    task = await make_task(client, unique)
    run = await wait_done(client, (await run_task(client, task, {"ip": "10.0.0.5", "base": scores.url}))["id"])
    for role in ("editor", "runner"):
        made = await client.post("/v1/api-keys", json={"name": f"{role}-replay-{unique}", "roles": [role]})
        key = made.json()["key"]
        headers = {"Authorization": f"Bearer {key}"}
        refused = assert_problem(
            await client.post(f"/v1/tasks/{task['id']}/replay", json={"run_id": run["id"]}, headers=headers), 403, "forbidden"
        )
        assert "payloads" in refused["detail"]
        batch = await client.post(f"/v1/tasks/{task['id']}/replay-batch", json={"last": 5}, headers=headers)
        assert_problem(batch, 403, "forbidden")
        tested = await client.post(f"/v1/tasks/{task['id']}/test", json={"samples": []}, headers=headers)
        assert tested.status_code == 200 and tested.json()["summary"]["total"] == 0

    running = await client.post("/v1/tasks/execute", json={"script": "sleep(30)\nreturn 1"})
    assert running.status_code == 202
    unfinished = await run_task(client, task, {"ip": "10.0.0.6", "base": scores.url})
    other = await client.post(f"/v1/tasks/{task['id']}/replay", json={"run_id": running.json()["id"]})
    assert assert_problem(other, 422)["errors"][0]["field"] == "run_id"
    await client.post(f"/v1/task-runs/{running.json()['id']}/cancel")
    missing = await client.post(f"/v1/tasks/{task['id']}/replay", json={"run_id": "0193b3c2-0000-7000-8000-000000000000"})
    assert assert_problem(missing, 422)["errors"][0]["field"] == "run_id"
    await wait_done(client, unfinished["id"])


@requires_engine
async def test_replay_reads_tool_results_kept_in_the_blob_store(api_worker, client, unique, scores, api_settings):
    size = api_settings.INLINE_THRESHOLD_BYTES + 50_000
    script = f'r = app::http::request("GET", "${{input}}/report/{size}")\nreturn len(r.body.text)'
    created = await client.post("/v1/tasks", json={"name": f"Big {unique}", "script": script})
    task = created.json()
    run = await wait_done(client, (await run_task(client, task, scores.url))["id"])
    assert run["output"] == size, run
    history = await api_worker.client.get_workflow_handle(run["workflow_id"]).fetch_history()
    assert len(history.to_json()) < size  # the result went to the blob store, not into history
    calls_before = len(scores.calls)
    doubled = script.replace("return len(r.body.text)", "return len(r.body.text) * 2")
    replayed = (await client.post(f"/v1/tasks/{task['id']}/replay", json={"run_id": run["id"], "script": doubled})).json()
    assert replayed["outcome"] == "different", replayed
    assert replayed["diff"] == [{"path": "$", "kind": "changed", "expected": size, "actual": 2 * size}]
    assert len(scores.calls) == calls_before
