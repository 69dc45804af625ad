"""Rows and service results turned into the resources the API answers with.

Tasks, task versions, questions, API keys and audit entries are answered as their rows, which
their response models read attribute by attribute; what needs more than that is built here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from persistence.models import TaskRun, TaskRunLog
from persistence.repository.schedules import backfill_id_of

from .authz import sees_payloads
from .services.run_values import run_input, run_output
from .state import AppState, current_principal

def page(items: Sequence[Any], next_cursor: str | None = None) -> dict[str, Any]:
    return {"items": list(items), "next_cursor": next_cursor}


async def run_resource(state: AppState, run: TaskRun) -> dict[str, Any]:
    """The run as the API shows it, with input and output read back from where they are stored
    (when the caller may read them)."""
    store = state.blob_store
    principal = current_principal.get()
    visible = principal is None or sees_payloads(principal, run)
    output = input_value = None
    if visible:
        output = await run_output(store, run)
        input_value = await run_input(store, run)
    return {
        "id": run.id,
        "task_id": run.task_id,
        "task_version": run.task_version,
        "status": run.status,
        "waiting_reason": run.waiting_reason if run.status == "pending" else None,
        "trigger": run.trigger,
        "input": input_value,
        "output": output,
        "error": run.error,
        "logs_count": run.logs_count or 0,
        "llm_usage": run.llm_usage,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "completed_at": run.completed_at,
        "duration_ms": run.duration_ms,
        "workflow_id": run.workflow_id,
        "scheduled_time": run.scheduled_time,
        "backfill_id": backfill_id_of(run.created_by),
        "created_by": run.created_by,
        "payloads_visible": visible,
    }


async def run_page(state: AppState, runs: Sequence[TaskRun], next_cursor: str | None) -> dict[str, Any]:
    return page([await run_resource(state, run) for run in runs], next_cursor)


def run_logs_resource(run: TaskRun, lines: Sequence[TaskRunLog]) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "items": [{"seq": line.seq, "message": line.message, "created_at": line.ts} for line in lines],
    }
