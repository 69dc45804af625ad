"""Rows and service results turned into the resources the API answers with.

Tasks, task versions, questions, API keys and audit entries are answered as their rows, which
their response models read attribute by attribute; what needs more than that is built here.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from persistence.models import (
    VERSIONED_TASK_FIELDS,
    Alert,
    ApiKey,
    EventRule,
    Hook,
    Question,
    Task,
    TaskRun,
    TaskRunLog,
    WorkflowDefinition,
    WorkflowRun,
)
from persistence.repository.schedules import backfill_id_of
from taskrun.alerts import shown_url

from .authz import sees_payloads
from .services.hooks import delivery_url
from .services.run_values import RunPayloads, run_payloads
from .services.schedule_protocol import ScheduleView, TriggerOutcome
from .services import workflow_runs as workflow_run_service
from .services.task_versions import PinnedVersion
from .state import AppState, current_principal

NEXT_FIRE_TIMES = 5
MAX_LISTED_TIMES = 1000


def rule_resource(rule: EventRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "event": list(rule.event_types),
        "task_id": rule.source_task_id,
        "match": list(rule.match or []),
        "target": {"task_id": str(rule.target_task_id)} if rule.target_task_id else {"workflow_id": str(rule.target_workflow_id)},
        "enabled": rule.enabled,
        "created_by": rule.created_by,
        "created_at": rule.created_at,
        "updated_at": rule.updated_at,
    }


def alert_resource(alert: Alert) -> dict[str, Any]:
    """An alert as the API shows it: whether it has a secret, never the secret; its URL
    without path or query."""
    return {
        "id": alert.id,
        "name": alert.name,
        "task_id": alert.task_id,
        "on": list(alert.on),
        "pending_over_seconds": alert.pending_over_seconds,
        "question_waiting_over_seconds": alert.question_waiting_over_seconds,
        "schedule_late_over_seconds": alert.schedule_late_over_seconds,
        "url": shown_url(alert.url),
        "has_secret": bool(alert.secret),
        "format": alert.format,
        "enabled": alert.enabled,
        "created_by": alert.created_by,
        "created_at": alert.created_at,
        "updated_at": alert.updated_at,
    }


def page(items: Sequence[Any], next_cursor: str | None = None) -> dict[str, Any]:
    return {"items": list(items), "next_cursor": next_cursor}


async def run_resource(state: AppState, run: TaskRun) -> dict[str, Any]:
    """The run as the API shows it, with input and output read back from where they are stored
    (when the caller may read them)."""
    store = state.blob_store
    principal = current_principal.get()
    visible = principal is None or sees_payloads(principal, run)
    payloads = await run_payloads(store, run) if visible else RunPayloads()
    return {
        "id": run.id,
        "task_id": run.task_id,
        "task_version": run.task_version,
        "status": run.status,
        "waiting_reason": run.waiting_reason if run.status == "pending" else None,
        "trigger": run.trigger,
        "input": payloads.input,
        "output": payloads.output,
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
        "parent_workflow_run_id": run.parent_workflow_run_id,
        "workflow_node_instance_id": run.workflow_node_instance_id,
        "created_by": run.created_by,
        "payloads_visible": visible,
        "payloads_missing": payloads.missing,
    }


async def run_page(state: AppState, runs: Sequence[TaskRun], next_cursor: str | None) -> dict[str, Any]:
    return page([await run_resource(state, run) for run in runs], next_cursor)


def run_logs_resource(run: TaskRun, lines: Sequence[TaskRunLog]) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "items": [{"seq": line.seq, "message": line.message, "created_at": line.ts} for line in lines],
    }


def run_questions_resource(run: TaskRun, questions: Sequence[Question]) -> dict[str, Any]:
    return {"run_id": run.id, "items": list(questions)}


def version_diff_resource(task: Task, a: int, b: int, old: PinnedVersion, new: PinnedVersion) -> dict[str, Any]:
    """What changed from version ``a`` (``old``) to version ``b`` (``new``) of ``task``."""
    script_diff = "".join(
        difflib.unified_diff(
            old.script.splitlines(keepends=True),
            new.script.splitlines(keepends=True),
            fromfile=f"{task.cy_name} v{a}",
            tofile=f"{task.cy_name} v{b}",
        )
    )
    changes = {
        field: {"from": getattr(old, field), "to": getattr(new, field)}
        for field in VERSIONED_TASK_FIELDS
        if field != "script" and getattr(old, field) != getattr(new, field)
    }
    return {"task_id": task.id, "from_version": a, "to_version": b, "script_diff": script_diff, "changes": changes}


def created_key_resource(api_key: ApiKey, secret: str) -> dict[str, Any]:
    """A new API key, with the secret it is shown with this once."""
    return {
        "id": api_key.id,
        "name": api_key.name,
        "roles": list(api_key.roles),
        "created_at": api_key.created_at,
        "created_by": api_key.created_by,
        "expires_at": api_key.expires_at,
        "key": secret,
    }


HOOK_FIELDS = (
    "id", "task_id", "workflow_id", "name", "enabled", "auth", "headers", "dedup_key", "replay_window_seconds",
    "created_by", "created_at", "updated_at", "secret_rotated_at",
)


def hook_resource(state: AppState, hook: Hook) -> dict[str, Any]:
    """A webhook as every read shows it: never its secret."""
    return {**{field: getattr(hook, field) for field in HOOK_FIELDS}, "url": delivery_url(state.settings, hook.id)}


def hook_with_secret_resource(state: AppState, hook: Hook) -> dict[str, Any]:
    """A webhook just made or whose secret was just rotated, with the secret shown this once."""
    return {**hook_resource(state, hook), "secret": hook.secret}


def hook_delivery_resource(delivery: Any) -> dict[str, Any]:
    return {
        "run_id": delivery.run_id,
        "run_type": delivery.run_type,
        "status": delivery.status,
        "deduplicated": delivery.deduplicated,
    }


def _schedule_fields(spec: Any, view: Any) -> dict[str, Any]:
    return {
        "schedule_id": view.schedule_id,
        "cron": spec.cron,
        "interval": spec.interval,
        "offset": spec.offset,
        "timezone": spec.timezone,
        "input": spec.input,
        "overlap": spec.overlap,
        "catchup_window": spec.catchup_window,
        "jitter": spec.jitter,
        "paused": view.paused,
        "pause_reason": view.pause_reason,
        "paused_by_user": spec.paused,
        "note": spec.note,
        "version": spec.version,
        "backfills": spec.backfills,
        "created_at": spec.created_at,
        "updated_at": spec.updated_at,
        "in_sync": False,
    }


def _live_fields(resource: dict[str, Any], live: Any, run_of: Any) -> dict[str, Any]:
    """What Temporal says of a schedule; ``run_of(action)`` is the run an action recorded."""
    info = live.description.info
    resource["in_sync"] = live.in_sync
    resource["paused"] = live.paused
    if not resource["paused"]:
        resource["next_fire_times"] = list(info.next_action_times[:NEXT_FIRE_TIMES])
    resource["num_actions"] = info.num_actions
    resource["num_skipped_overlap"] = info.num_actions_skipped_overlap
    resource["num_missed_catchup_window"] = info.num_actions_missed_catchup_window
    resource["running_workflow_ids"] = [action.workflow_id for action in info.running_actions]
    actions = []
    for action in live.recent_actions:
        run = run_of(action.action)
        actions.append(
            {
                "scheduled_time": action.scheduled_at,
                "started_at": action.started_at,
                "workflow_id": action.action.workflow_id,
                "workflow_run_id": action.action.first_execution_run_id,
                "run_id": run.id if run is not None else None,
                "status": run.status if run is not None else None,
                "backfill_id": backfill_id_of(run.created_by) if run is not None else None,
            }
        )
    resource["recent_actions"] = actions
    return resource


def schedule_resource(view: ScheduleView) -> dict[str, Any]:
    """A task's schedule as stored, and as Temporal runs it when Temporal has it."""
    task = view.owner
    resource: dict[str, Any] = {
        "task_id": task.id,
        "task": task.cy_name,
        "task_status": task.status,
        **_schedule_fields(view.spec, view),
    }
    live = view.live
    if live is None:
        return resource
    return _live_fields(resource, live, lambda action: live.runs.get(action.first_execution_run_id))


def workflow_schedule_resource(view: ScheduleView) -> dict[str, Any]:
    """A workflow's schedule as stored, and as Temporal runs it when Temporal has it; each
    recent action's ``run_id`` is the workflow run it recorded."""
    workflow = view.owner
    resource: dict[str, Any] = {
        "workflow_id": workflow.id,
        "workflow": workflow.name,
        "workflow_status": workflow.status,
        **_schedule_fields(view.spec, view),
    }
    live = view.live
    if live is None:
        return resource
    return _live_fields(resource, live, lambda action: live.runs.get(action.workflow_id))


def _trigger_fields(outcome: TriggerOutcome, names: dict[str, str]) -> dict[str, Any]:
    """The outcome's known fields, under the names its owner's resource uses."""
    result: dict[str, Any] = {names["owner_id"]: outcome.owner_id, "triggered_at": outcome.triggered_at}
    for field, name in names.items():
        value = getattr(outcome, field)
        if value is not None:
            result[name] = value
    return result


def workflow_trigger_resource(outcome: TriggerOutcome) -> dict[str, Any]:
    return _trigger_fields(
        outcome,
        {
            "owner_id": "workflow_id",
            "temporal_workflow_id": "temporal_workflow_id",
            "temporal_run_id": "temporal_run_id",
            "run_id": "workflow_run_id",
        },
    )


def workflow_backfill_resource(workflow: WorkflowDefinition, record: dict[str, Any]) -> dict[str, Any]:
    return {"workflow_id": workflow.id, "backfill": record, "expected_runs": record["expected_runs"]}


def workflow_fire_times_resource(
    workflow: WorkflowDefinition, timezone: str, start: datetime, end: datetime, times: Sequence[datetime]
) -> dict[str, Any]:
    listed = fire_times_resource(workflow, timezone, start, end, times)
    listed.pop("task_id")
    return {"workflow_id": workflow.id, **listed}


async def schedule_run_page(state: AppState, runs: Sequence[TaskRun], next_cursor: str | None) -> dict[str, Any]:
    """Runs a schedule started, each with its scheduled time and backfill id."""
    items = []
    for run in runs:
        item = await run_resource(state, run)
        item["scheduled_time"] = run.scheduled_time
        item["backfill_id"] = backfill_id_of(run.created_by)
        items.append(item)
    return page(items, next_cursor)


def trigger_resource(outcome: TriggerOutcome) -> dict[str, Any]:
    return _trigger_fields(
        outcome,
        {
            "owner_id": "task_id",
            "temporal_workflow_id": "workflow_id",
            "temporal_run_id": "workflow_run_id",
            "run_id": "run_id",
        },
    )


def backfill_resource(task: Task, record: dict[str, Any]) -> dict[str, Any]:
    return {"task_id": task.id, "backfill": record, "expected_runs": record["expected_runs"]}


def fire_times_resource(
    task: Task | WorkflowDefinition, timezone: str, start: datetime, end: datetime, times: Sequence[datetime]
) -> dict[str, Any]:
    """The instants a schedule fires at in a range (at most MAX_LISTED_TIMES), also in its time zone."""
    zone = ZoneInfo(timezone)
    listed = list(times[:MAX_LISTED_TIMES])
    return {
        "task_id": task.id,
        "timezone": timezone,
        "start": start,
        "end": end,
        "times": listed,
        "local_times": [moment.astimezone(zone).isoformat() for moment in listed],
    }


def workflow_run_listed(run: WorkflowRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "workflow_id": run.workflow_id,
        "workflow_name": run.workflow_name,
        "workflow_version": run.workflow_version,
        "status": run.status,
        "trigger": run.trigger,
        "error": run.error,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "completed_at": run.completed_at,
        "duration_ms": run.duration_ms,
        "temporal_workflow_id": run.temporal_workflow_id,
        "scheduled_time": run.scheduled_time,
        "backfill_id": backfill_id_of(run.created_by),
        "created_by": run.created_by,
        "cancel_requested": run.cancel_requested,
    }


async def workflow_run_resource(
    state: AppState, session: Any, run: WorkflowRun, *, just_started: bool = False
) -> dict[str, Any]:
    """The run with its input and output (when the caller may read them) and its nodes."""
    principal = current_principal.get()
    visible = principal is None or sees_payloads(principal, run)
    input_value = output = None
    if visible:
        input_value, output = await workflow_run_service.values(state, run)
    return {
        **workflow_run_listed(run),
        "input": input_value,
        "output": output,
        "payloads_visible": visible,
        "nodes": await workflow_run_service.node_views(state, session, run, just_started=just_started),
    }


def workflow_graph_resource(run: WorkflowRun, nodes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    status_of = {node["node_id"]: node["status"] for node in nodes}
    ended = {"completed", "failed", "cancelled", "skipped"}
    return {
        "workflow_run_id": run.id,
        "status": run.status,
        "nodes": [
            {
                "id": node["node_id"],
                "kind": node["kind"],
                "task": node["task"],
                "status": node["status"],
                "task_run_ids": node["task_run_ids"],
            }
            for node in nodes
        ],
        "edges": [
            {**edge, "state": "taken" if status_of.get(edge["from"]) in ended else "waiting"}
            for edge in (run.graph or {}).get("edges", [])
        ],
    }
def stats_resource(stats: Any) -> dict[str, Any]:
    """Run statistics (api/services/stats.RunStats) as the API shows them."""
    task = stats.task
    resource: dict[str, Any] = {
        "window": stats.window.name,
        "period": stats.window.period,
        "since": stats.window.since,
        "until": stats.window.until,
        "task": None if task is None else {"task_id": task.id, "cy_name": task.cy_name, "name": task.name},
        "runs": stats.total,
        "by_status": stats.by_status,
        "by_trigger": stats.by_trigger,
        "success_rate": stats.success_rate,
        "duration_ms": stats.duration,
        "errors": stats.errors,
        "llm_tokens": stats.llm_tokens,
        "active": stats.active,
        "series": stats.series,
    }
    if task is None:
        resource["top_failing"] = stats.top_failing
        resource["slowest"] = stats.slowest
    return resource
