"""Recorded histories of representative runs must replay on the current code.

A change to the interpreter or the workflow that would break runs already in flight
fails here. Each history is replayed with and without the SDK's sandbox: workers run
unsandboxed by default, and the sandboxed replay keeps the workflow code free of
anything the sandbox forbids. Record new histories with ``python -m tests.engine.record_histories``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from integrations.registry import get_registry
from worker import workflow_runner
from workflows.task_run import TaskRunWorkflow
from workflows.event_delivery import EventDeliveryWorkflow
from workflows.workflow_run import WorkflowRunWorkflow

from . import plugin

HISTORIES = Path(__file__).resolve().parents[1] / "fixtures" / "histories"


def recorded() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


@pytest.mark.parametrize("path", recorded(), ids=lambda p: p.stem)
async def test_history_replays(path: Path):
    registry = get_registry()
    if "app::test::echo" not in registry:
        plugin.register(registry)
    history = WorkflowHistory.from_json(f"taskrun-{path.stem}", path.read_text())
    for sandboxed in (True, False):
        replayer = Replayer(workflows=[TaskRunWorkflow, WorkflowRunWorkflow, EventDeliveryWorkflow], workflow_runner=workflow_runner(sandboxed))
        result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
        assert result.replay_failure is None


def test_histories_are_recorded():
    assert len(recorded()) >= 5
