"""Recorded histories of representative runs must replay on the current code.

A change to the interpreter or the workflow that would break runs already in flight
fails here. Record new histories with ``python -m tests.engine.record_histories``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from integrations.registry import get_registry
from worker import PASSTHROUGH_MODULES
from workflows.task_run import TaskRunWorkflow

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
    replayer = Replayer(
        workflows=[TaskRunWorkflow],
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
        ),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


def test_histories_are_recorded():
    assert len(recorded()) >= 5
