"""Killing the worker mid-run loses nothing and repeats no completed tool call."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.stack

REPO_ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """a = app::test::count_call(input, "first")
sleep(3)
b = app::test::count_call(input, "second")
return [a, b]"""


def start_worker(settings, task_queue: str) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(
        {
            "CYTASKS_DATABASE_URL": settings.DATABASE_URL,
            "CYTASKS_TEMPORAL_ADDRESS": settings.TEMPORAL_ADDRESS,
            "CYTASKS_TEMPORAL_NAMESPACE": settings.TEMPORAL_NAMESPACE,
            "CYTASKS_TASK_QUEUE": task_queue,
            "CYTASKS_BLOB_DIR": str(settings.blob_dir),
            "CYTASKS_PLUGINS": "tests.engine.plugin:register",
            "PYTHONPATH": str(REPO_ROOT),
        }
    )
    return subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "worker.py")],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


async def test_worker_killed_mid_run_finishes_without_repeating_tools(runner, tmp_path):
    task_queue = "cytasks-restart-test"
    settings = runner.settings.model_copy(update={"TASK_QUEUE": task_queue})
    runner = type(runner)(runner.client, settings)
    counter = tmp_path / "calls.txt"
    first = start_worker(settings, task_queue)
    try:
        run_id = await runner.start(SCRIPT, str(counter))
        for _ in range(300):
            if counter.exists() and counter.read_text().splitlines() == ["first"]:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail(f"the first tool never ran: {first.stderr.read1().decode() if first.poll() is not None else ''}")
        await asyncio.sleep(0.5)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        assert (await runner.row(run_id)).status == "running"
        second = start_worker(settings, task_queue)
        try:
            row = await runner.wait(run_id, timeout=90)
        finally:
            os.killpg(second.pid, signal.SIGTERM)
            second.wait(timeout=20)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert row.status == "completed", row.error
    assert row.output_inline == [1, 2]
    assert counter.read_text().splitlines() == ["first", "second"]


async def test_worker_killed_mid_workflow_run_repeats_no_node_run(runner, tmp_path):
    from .graph_helpers import Graphs

    task_queue = "cytasks-restart-graph-test"
    settings = runner.settings.model_copy(update={"TASK_QUEUE": task_queue})
    graphs = Graphs(runner.client, settings)
    counter = tmp_path / "nodes.txt"
    first = start_worker(settings, task_queue)
    try:
        run_id = await graphs.start(
            {
                "first": 'return app::test::count_call(input, "a")',
                "slow": 'n = app::test::count_call("' + str(counter) + '", "b")\nsleep(3)\nreturn n',
                "last": 'return app::test::count_call("' + str(counter) + '", "c")',
            },
            [{"id": "a", "task": "first"}, {"id": "b", "task": "slow"}, {"id": "c", "task": "last"}],
            [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}],
            input=str(counter),
        )
        for _ in range(300):
            if counter.exists() and counter.read_text().splitlines() == ["a", "b"]:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail(f"node b never ran: {first.stderr.read1().decode() if first.poll() is not None else ''}")
        await asyncio.sleep(0.5)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        second = start_worker(settings, task_queue)
        try:
            run, children = await graphs.wait(run_id, timeout=90)
        finally:
            os.killpg(second.pid, signal.SIGTERM)
            second.wait(timeout=20)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert run.status == "completed", run.error
    assert run.output_inline == 3
    assert counter.read_text().splitlines() == ["a", "b", "c"]
    assert sorted(child.workflow_node_instance_id for child in children) == ["a", "b", "c"]
