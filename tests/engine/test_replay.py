"""Recorded histories of representative runs must replay on the current code.

A change to the interpreter or the workflow that would break runs already in flight
fails here. Each history is replayed with and without the SDK's sandbox: workers run
unsandboxed by default, and the sandboxed replay keeps the workflow code free of
anything the sandbox forbids. Record new histories with ``python -m tests.engine.record_histories``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from integrations.registry import get_registry
from worker import workflow_runner
from workflows.task_run import TaskRunWorkflow
from workflows.event_delivery import EventDeliveryWorkflow
from workflows import versions
from workflows.workflow_run import WorkflowRunWorkflow

from . import plugin

HISTORIES = Path(__file__).resolve().parents[1] / "fixtures" / "histories"


def recorded() -> list[Path]:
    return sorted(HISTORIES.glob("**/*.json"))


@pytest.mark.parametrize("path", recorded(), ids=lambda p: str(p.relative_to(HISTORIES).with_suffix("")))
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


def _patch_markers(path: Path) -> list[str]:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    found = []
    for event in history.events:
        attributes = event.marker_recorded_event_attributes
        if event.HasField("marker_recorded_event_attributes") and attributes.marker_name == "core_patch":
            found.append(json.loads(attributes.details["patch-data"].payloads[0].data)["id"])
    return found


def test_runs_of_the_epoch_record_its_marker_instead_of_the_patches_it_folds():
    epoch = sorted((HISTORIES / "epoch-1").glob("*.json"))
    assert len(epoch) >= 10
    for path in epoch:
        markers = _patch_markers(path)
        if path.stem != "event_delivery":  # EventDeliveryWorkflow begins no epoch
            assert markers.count(versions.EPOCH) == 1, (path.stem, markers)
        assert not set(markers) & versions.FOLDED, (path.stem, markers)
    assert not any(versions.EPOCH in _patch_markers(path) for path in HISTORIES.glob("*.json"))
