"""Schemathesis against the live app (real Postgres and Temporal): every check, no 5xx.

The schema is fuzzed through uvicorn like a client would reach it, with a fixed seed and a
bounded number of examples per operation so the test stays within about a minute and a half.
"""

from __future__ import annotations

import os
import asyncio
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.stack, pytest.mark.asyncio(loop_scope="session")]

MAX_EXAMPLES = int(os.environ.get("CYTASKS_FUZZ_EXAMPLES", "12"))
SEED = os.environ.get("CYTASKS_FUZZ_SEED", "20261201")
EXCLUDED_CHECKS = {
    # "A request the schema allows must be accepted": the schema cannot say that a script must
    # compile, that a schedule has exactly one of cron and interval, that a range's end follows
    # its start or that a cursor must be one the API issued, so fuzzed requests that the schema
    # allows are rightly refused with a 4xx problem. Every other check runs.
    "positive_data_acceptance": "semantic validation the schema cannot express",
}


def _seed_ids(base_url: str, api_key: str) -> dict[str, str]:
    """A task, a run and a schedule for the operations that need an existing resource."""
    import httpx

    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30) as client:
        task = client.post("/v1/tasks", json={"name": "Fuzzed task", "script": "return input"})
        assert task.status_code == 201, task.text
        task_id = task.json()["id"]
        schedule = client.put(f"/v1/tasks/{task_id}/schedule", json={"cron": "0 7 * * 1-5", "paused": True})
        assert schedule.status_code == 200, schedule.text
        run = client.post(f"/v1/tasks/{task_id}/execute", json={"input": {"n": 1}})
        assert run.status_code == 202, run.text
        return {"task_id": task_id, "run_id": run.json()["id"]}


def _config(path: Path, ids: dict[str, str]) -> Path:
    lines = ["[parameters]"] + [f'"path.{name}" = "{value}"' for name, value in ids.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(
    live_server: str, api_settings, api_worker, tmp_path: Path
) -> None:
    # The worker runs on this event loop, so fuzzed runs (and schedule triggers, which wait for
    # their run) finish while schemathesis runs in a subprocess.
    config = _config(tmp_path / "schemathesis.toml", await asyncio.to_thread(_seed_ids, live_server, api_settings.API_KEY))
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        f"{live_server}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        SEED,
        "--workers",
        "1",
        "--phases",
        "examples,coverage,fuzzing",
        "--request-timeout",
        "30",
        "--no-shrink",
        "--header",
        f"Authorization: Bearer {api_settings.API_KEY}",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
        "--output-truncate",
        "false",
    ]
    for check in EXCLUDED_CHECKS:
        command += ["--exclude-checks", check]
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,  # schemathesis keeps a cache of past failures in its working directory
        env={**os.environ, "NO_COLOR": "1"},
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=600)
    text = output.decode(errors="replace")
    (tmp_path / "schemathesis.out").write_text(text)
    summary = text[text.rfind("SUMMARY") - 40:] if "SUMMARY" in text else text[-5000:]
    print(summary)
    assert process.returncode == 0, text[-30000:]
