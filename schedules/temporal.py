"""Translation of a schedule into a Temporal Schedule: a task's starts ``TaskRunWorkflow``, a
workflow's starts ``WorkflowRunWorkflow``.

The action carries only the task (or workflow) id and the input (``TaskRunRequest.for_schedule``,
``WorkflowRunRequest.for_schedule``); the workflow records the run and pins the current version
when it fires (``prepare_scheduled_run``, ``prepare_scheduled_workflow_run``). A fingerprint of
what the schedule should be travels in the action's memo, so reconciliation can tell a drifted
schedule from a current one. Task schedules are ``cytasks-task-<id>``, workflow schedules
``cytasks-workflow-<id>``: the prefixes tell reconciliation which table owns a schedule.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec as TemporalScheduleSpec,
    ScheduleState,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from taskrun.contract import (
    STATUS,
    TASK_ID,
    TASK_NAME,
    TASK_RUN_WORKFLOW,
    TRIGGER,
    WORKFLOW_RUN_WORKFLOW,
    TaskRunRequest,
    WorkflowRunRequest,
)

from .spec import ScheduleSpec

SCHEDULE_ID_PREFIX = "cytasks-task-"
WORKFLOW_ID_PREFIX = "taskrun-sched-"
WORKFLOW_SCHEDULE_ID_PREFIX = "cytasks-workflow-"
WORKFLOW_RUN_ID_PREFIX = "workflowrun-sched-"
FINGERPRINT_MEMO_KEY = "cytasks_schedule"

OVERLAP_TO_TEMPORAL = {
    "skip": ScheduleOverlapPolicy.SKIP,
    "buffer_one": ScheduleOverlapPolicy.BUFFER_ONE,
    "buffer_all": ScheduleOverlapPolicy.BUFFER_ALL,
    "cancel_other": ScheduleOverlapPolicy.CANCEL_OTHER,
    "terminate_other": ScheduleOverlapPolicy.TERMINATE_OTHER,
    "allow_all": ScheduleOverlapPolicy.ALLOW_ALL,
}


def schedule_id_for(task_id: Any) -> str:
    return f"{SCHEDULE_ID_PREFIX}{task_id}"


def task_id_from_schedule_id(schedule_id: str) -> str | None:
    if schedule_id.startswith(SCHEDULE_ID_PREFIX):
        return schedule_id[len(SCHEDULE_ID_PREFIX) :]
    return None


def workflow_schedule_id_for(workflow_id: Any) -> str:
    return f"{WORKFLOW_SCHEDULE_ID_PREFIX}{workflow_id}"


def workflow_id_from_schedule_id(schedule_id: str) -> str | None:
    if schedule_id.startswith(WORKFLOW_SCHEDULE_ID_PREFIX):
        return schedule_id[len(WORKFLOW_SCHEDULE_ID_PREFIX) :]
    return None


def workflow_id_prefix(task_id: Any) -> str:
    """Temporal appends the action's time to it: ``taskrun-sched-<task id>-2026-01-05T07:00:00Z``."""
    return f"{WORKFLOW_ID_PREFIX}{task_id}"


def pause_state(spec: ScheduleSpec, task_status: str, owner: str = "task") -> tuple[bool, str | None, str | None]:
    """(paused in Temporal, reason, note): a schedule runs only when not paused and its task
    (or workflow: ``owner``) is enabled."""
    if task_status != "enabled":
        note = f"{owner} is {task_status}" + (f"; {spec.note}" if spec.note else "")
        return True, f"{owner}_{task_status}", note
    if spec.paused:
        return True, "paused", spec.note or "paused"
    return False, None, spec.note


def fingerprint(spec: ScheduleSpec, task_id: Any, task_name: str, task_queue: str, with_attributes: bool) -> str:
    key = {
        "timing": spec.timing_key(),
        "task_id": str(task_id),
        "task_name": task_name,
        "task_queue": task_queue,
        "attributes": with_attributes,
        "format": 1,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _timing(spec: ScheduleSpec) -> tuple[TemporalScheduleSpec, SchedulePolicy]:
    temporal_spec = TemporalScheduleSpec(
        cron_expressions=[spec.cron_normalized] if spec.cron else [],
        intervals=[ScheduleIntervalSpec(every=spec.interval_delta, offset=spec.offset_delta)]
        if spec.interval
        else [],
        time_zone_name=spec.timezone,
        jitter=spec.jitter_delta,
    )
    policy = SchedulePolicy(overlap=OVERLAP_TO_TEMPORAL[spec.overlap])
    if spec.catchup_window:
        policy.catchup_window = spec.catchup_window_delta
    return temporal_spec, policy


def build_schedule(
    spec: ScheduleSpec,
    *,
    task_id: Any,
    task_name: str,
    task_status: str,
    task_queue: str,
    with_search_attributes: bool,
) -> Schedule:
    """The Temporal Schedule for a task's schedule document."""
    temporal_spec, policy = _timing(spec)
    attributes = TypedSearchAttributes.empty
    if with_search_attributes:
        attributes = TypedSearchAttributes(
            [
                SearchAttributePair(TASK_NAME, task_name),
                SearchAttributePair(TASK_ID, str(task_id)),
                SearchAttributePair(TRIGGER, "schedule"),
                SearchAttributePair(STATUS, "pending"),
            ]
        )
    request = TaskRunRequest.for_schedule(task_id=str(task_id), input=spec.input)
    action = ScheduleActionStartWorkflow(
        TASK_RUN_WORKFLOW,
        request,
        id=workflow_id_prefix(task_id),
        task_queue=task_queue,
        memo={FINGERPRINT_MEMO_KEY: fingerprint(spec, task_id, task_name, task_queue, with_search_attributes)},
        typed_search_attributes=attributes,
        static_summary=f"{task_name} (schedule)",
    )
    paused, _reason, note = pause_state(spec, task_status)
    return Schedule(action=action, spec=temporal_spec, policy=policy, state=ScheduleState(paused=paused, note=note or ""))


def workflow_run_id_prefix(workflow_id: Any) -> str:
    """Temporal appends the action's time: ``workflowrun-sched-<workflow id>-2026-01-05T07:00:00Z``."""
    return f"{WORKFLOW_RUN_ID_PREFIX}{workflow_id}"


def build_workflow_schedule(
    spec: ScheduleSpec,
    *,
    workflow_id: Any,
    workflow_name: str,
    workflow_status: str,
    task_queue: str,
    with_search_attributes: bool,
) -> Schedule:
    """The Temporal Schedule for a workflow's schedule document. Its action carries the trigger
    search attribute where it is registered, which also tells the run its node runs may carry theirs."""
    temporal_spec, policy = _timing(spec)
    attributes = TypedSearchAttributes.empty
    if with_search_attributes:
        attributes = TypedSearchAttributes([SearchAttributePair(TRIGGER, "schedule")])
    request = WorkflowRunRequest.for_schedule(workflow_id=str(workflow_id), input=spec.input)
    key = fingerprint(spec, f"workflow:{workflow_id}", workflow_name, task_queue, with_search_attributes)
    action = ScheduleActionStartWorkflow(
        WORKFLOW_RUN_WORKFLOW,
        request,
        id=workflow_run_id_prefix(workflow_id),
        task_queue=task_queue,
        memo={FINGERPRINT_MEMO_KEY: key},
        typed_search_attributes=attributes,
        static_summary=f"{workflow_name} (workflow schedule)",
    )
    paused, _reason, note = pause_state(spec, workflow_status, "workflow")
    return Schedule(action=action, spec=temporal_spec, policy=policy, state=ScheduleState(paused=paused, note=note or ""))


def action_fingerprint(schedule: Schedule) -> str | None:
    """The fingerprint stored in a described schedule's action memo (None when absent)."""
    action = schedule.action
    memo = getattr(action, "memo", None) or {}
    raw = memo.get(FINGERPRINT_MEMO_KEY)
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw
    try:
        return json.loads(raw.data)
    except Exception:
        return None
