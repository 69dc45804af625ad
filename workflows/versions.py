"""Workflow code versions: each change to a workflow's commands is behind a patch, and one
epoch marker stands for every patch made before it.

``workflow.patched(name)`` records a marker in a new run's history, and the SDK records a
``TemporalChangeVersion`` search-attribute upsert beside each one, so every patch a run asks
costs it two history events and a visibility update on the server (about 1 ms of server
CPU per patch here; see bench/README.md). A run that starts on this code records one marker,
``EPOCH``, and takes the newer path of every patch in ``FOLDED`` without asking. A run whose
history has no epoch marker (recorded by older code) asks each patch as it always did, so its
replay finds the markers it recorded.

A change made after the epoch gets a patch of its own, asked with ``patched`` like any other
and not added to ``FOLDED``: runs recorded under this epoch have no marker for it.
"""

from __future__ import annotations

from temporalio import workflow

EPOCH = "cytasks-epoch-1"

FOLDED = frozenset(
    {
        # TaskRunWorkflow and its host
        "compile-alone",
        "schedule-events",
        "start-recorded-when-needed",
        "live-logs",
        "failed-runs-fail-workflows",
        "result-has-output",
        "run-events",
        "local-tools",
        "start-recorded-beside-tools",
        "max-concurrency",
        "pending-alerts",
        # questions
        "question-alerts",
        "answers-verified",
        "question-events",
        # event delivery, from either run workflow
        "events-delivered-apart",
        # WorkflowRunWorkflow
        "workflow-start-recorded-by-nodes",
        "workflow-run-events",
        "node-runs-record-themselves",
    }
)

_ATTRIBUTE = "_cytasks_epoch"


def begin(instance: object) -> None:
    """First thing in a run workflow's ``run``: record (or, replaying, find) the epoch marker."""
    setattr(instance, _ATTRIBUTE, workflow.patched(EPOCH))


def patched(name: str) -> bool:
    """``workflow.patched(name)``, answered without a marker when the run began in the epoch
    and the patch is one it folds."""
    if name in FOLDED and getattr(workflow.instance(), _ATTRIBUTE, False):
        return True
    return workflow.patched(name)
