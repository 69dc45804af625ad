"""A paused run survives its worker being killed: a new worker resumes it when the answer comes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from persistence.db import get_sessionmaker
from persistence.repository import create_run, get_run
from taskrun.client import start_task_run
from taskrun.contract import TaskRunRequest

from hitl_helpers import wait_question, wait_status

pytestmark = [pytest.mark.stack, pytest.mark.asyncio(loop_scope="session")]

REPO_ROOT = Path(__file__).resolve().parents[2]
TASK_QUEUE = "cytasks-hitl-restart-test"
SCRIPT = """channel = app::slack::create_channel(name="restart")
first = app::human::ask("First?", responses="a,b")
second = app::human::ask("Second?")
return [channel.name, first, second]"""


def start_worker(settings) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(
        {
            "CYTASKS_DATABASE_URL": settings.DATABASE_URL,
            "CYTASKS_TEMPORAL_ADDRESS": settings.TEMPORAL_ADDRESS,
            "CYTASKS_TEMPORAL_NAMESPACE": settings.TEMPORAL_NAMESPACE,
            "CYTASKS_TASK_QUEUE": TASK_QUEUE,
            "CYTASKS_BLOB_DIR": str(settings.blob_dir),
            "CYTASKS_PLUGINS": "hitl_plugin:register",
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "tests" / "hitl")]),
        }
    )
    return subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "worker.py")],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(process: subprocess.Popen, sig: int) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        process.wait(timeout=20)


async def test_paused_run_survives_worker_restart(api, temporal, hitl_settings):
    settings = hitl_settings.model_copy(update={"TASK_QUEUE": TASK_QUEUE})
    sessions = get_sessionmaker(settings.DATABASE_URL)
    async with sessions() as session, session.begin():
        run_id = str((await create_run(session, trigger="adhoc", cy_script=SCRIPT)).id)
    first = start_worker(settings)
    try:
        await start_task_run(
            temporal,
            TaskRunRequest(run_id=run_id, script=SCRIPT, trigger="adhoc"),
            task_queue=TASK_QUEUE,
            namespace=settings.TEMPORAL_NAMESPACE,
        )
        await wait_question(api, run_id, timeout=90)
        stop(first, signal.SIGKILL)
        assert (await api.get(f"/v1/task-runs/{run_id}")).json()["status"] == "paused"

        # Answered while no worker runs: the signal waits in Temporal.
        response = await api.post(f"/v1/task-runs/{run_id}/respond", json={"answer": "b"})
        assert response.status_code == 202, response.text
        second = start_worker(settings)
        try:
            await wait_question(api, run_id, count=2, timeout=90)
            # And killed again while paused on the second question.
            stop(second, signal.SIGKILL)
            third = start_worker(settings)
            try:
                response = await api.post(f"/v1/task-runs/{run_id}/respond", json={"answer": {"ok": True}})
                assert response.status_code == 202, response.text
                run = await wait_status(api, run_id, "completed", timeout=90)
            finally:
                stop(third, signal.SIGTERM)
        finally:
            stop(second, signal.SIGKILL)
    finally:
        stop(first, signal.SIGKILL)
    assert run["output"] == ["restart", "b", {"ok": True}]
    questions = (await api.get(f"/v1/task-runs/{run_id}/questions")).json()["items"]
    assert [(q["question"], q["status"], q["answer"]) for q in questions] == [
        ("First?", "answered", "b"),
        ("Second?", "answered", {"ok": True}),
    ]
