"""``prepare_scheduled_run``: a Temporal Schedule fired; record the run and pin the task's version.

Runs as a local activity of ``TaskRunWorkflow`` when the workflow was started by a schedule
(its request has no run id). It answers the complete request of a freshly recorded run, or
None when the task cannot run (gone, disabled, archived, schedule removed): the workflow then
ends ``skipped`` without a run row. A retried attempt finds the run the first one recorded
(keyed by the workflow's run id), so a fire never records two runs.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import activity

from activities import metrics
from persistence.db import get_sessionmaker
from persistence.ids import new_run_id
from persistence.repository import create_run, finish_run, get_task, get_version, set_run_workflow
from persistence.repository.schedules import SCHEDULE_CREATOR, backfill_creator, find_run_by_workflow_run
from settings import Settings
from storage.blobs import BlobStore
from storage.values import load_value, run_value_key, store_value
from persistence.repository.events import late_alerts_of, subscribers_of
from taskrun.contract import TERMINAL_RUN_STATUSES, ScheduledRunPrepared, TaskRunRequest, run_error
from taskrun.events import SCHEDULE_MISSED, matches, schedule_missed_event
from validation import SchemaFault, failures_of

logger = logging.getLogger(__name__)

# How far back a retried attempt looks for the run its first attempt recorded.
RETRY_LOOKBACK = timedelta(days=1)


def backfill_for(schedule: dict[str, Any] | None, scheduled_time: datetime | None) -> str | None:
    """The id of the backfill request whose range holds ``scheduled_time`` (requested after it)."""
    if not schedule or scheduled_time is None:
        return None
    for record in reversed(schedule.get("backfills") or []):
        try:
            start = datetime.fromisoformat(record["start"])
            end = datetime.fromisoformat(record["end"])
            requested = datetime.fromisoformat(record["requested_at"])
        except (KeyError, TypeError, ValueError):
            continue
        if start <= scheduled_time <= end and scheduled_time <= requested:
            return str(record.get("id"))
    return None


def input_errors(schema: dict[str, Any] | None, value: Any) -> str | None:
    if schema is None:
        return None
    try:
        failures = failures_of(schema, value)
    except SchemaFault as fault:
        return f"the task's input_schema cannot be evaluated at {fault.schema_path}: {fault.message}"
    if not failures:
        return None
    first = failures[0]
    return f"input at {first.path}: {first.message}"


def _lateness(run: Any, scheduled_time: datetime) -> float:
    """How much later than its fire time the fire's run was recorded, in seconds."""
    return max(0.0, (run.created_at - scheduled_time).total_seconds())


class ScheduleActivities:
    def __init__(self, settings: Settings, blobs: BlobStore) -> None:
        self.settings = settings
        self.blobs = blobs
        self.sessions = get_sessionmaker(settings.DATABASE_URL)

    @activity.defn(name="prepare_scheduled_run")
    async def prepare_scheduled_run(self, request: TaskRunRequest) -> ScheduledRunPrepared | TaskRunRequest | None:
        info = activity.info()
        scheduled_time = request.scheduled_time
        if scheduled_time is not None and scheduled_time.tzinfo is None:
            scheduled_time = scheduled_time.replace(tzinfo=UTC)
        try:
            task_id = uuid.UUID(str(request.task_id))
        except ValueError:
            logger.warning("schedule fire %s names no valid task id (%r): skipped", info.workflow_id, request.task_id)
            return None
        async with self.sessions() as session, session.begin():
            task = await get_task(session, task_id)
            if task is None:
                logger.warning("schedule fire %s: task %s no longer exists: skipped", info.workflow_id, task_id)
                return None
            if task.status != "enabled" or task.schedule is None:
                logger.info(
                    "schedule fire %s: task %s is %s%s: skipped",
                    info.workflow_id,
                    task.cy_name,
                    task.status,
                    "" if task.schedule is not None else " and unscheduled",
                )
                return None
            since = datetime.now(UTC) - RETRY_LOOKBACK
            run = await find_run_by_workflow_run(session, task.id, info.workflow_run_id, since)
            late = None
            if run is None:
                run_id = new_run_id()
                backfill_id = backfill_for(task.schedule, scheduled_time)
                stored = await store_value(
                    request.input,
                    self.settings.INLINE_THRESHOLD_BYTES,
                    self.blobs,
                    run_value_key(run_id, "input"),
                )
                pinned_version = (task.schedule or {}).get("version") or task.version
                run = await create_run(
                    session,
                    run_id=run_id,
                    trigger="schedule",
                    task_id=task.id,
                    task_version=pinned_version,
                    input_storage=stored.storage,
                    input_inline=stored.inline,
                    input_ref=stored.ref,
                    workflow_id=info.workflow_id,
                    scheduled_time=scheduled_time,
                    created_by=backfill_creator(backfill_id) if backfill_id else SCHEDULE_CREATOR,
                )
                await set_run_workflow(
                    session, run.id, workflow_id=info.workflow_id, workflow_run_id=info.workflow_run_id
                )
                if not backfill_id and scheduled_time is not None:
                    metrics.SCHEDULE_LATENESS.labels(task.cy_name).observe(_lateness(run, scheduled_time))
                problem = input_errors(task.input_schema, request.input)
                if problem is not None:
                    await finish_run(
                        session,
                        run.id,
                        status="failed",
                        error=run_error(
                            "InputValidationFailed",
                            f"The schedule's input no longer matches the task's input_schema: {problem}",
                        ),
                    )
                    return None
            elif run.status != "pending":
                # A retried attempt after the run already moved on: nothing more to start.
                if run.status in TERMINAL_RUN_STATUSES:
                    return None
            if run.created_by == SCHEDULE_CREATOR and scheduled_time is not None:
                # Also on a retried attempt that finds the run recorded: its event is not lost.
                late = await self._late_listeners(session, run, task, scheduled_time, _lateness(run, scheduled_time))
            pinned: Any = task
            if run.task_version is not None and run.task_version != task.version:
                pinned = await get_version(session, task.id, run.task_version) or task
            run_input = request.input
            if run.input_storage != "inline":
                run_input = await load_value(run.input_storage, run.input_inline, run.input_ref, self.blobs)
            request = TaskRunRequest.for_task(
                run_id=str(run.id), task=task, pinned=pinned, input=run_input, trigger="schedule"
            )
            request.scheduled_time = scheduled_time
            if late is not None:
                return ScheduledRunPrepared(request, *late)
            return request

    async def _late_listeners(self, session: Any, run: Any, task: Any, scheduled_time: datetime, lateness: float) -> tuple | None:
        """The ``schedule.missed`` event of a late fire and who listens to it: the task's alerts
        whose ``schedule_late_over_seconds`` it passed, and, past SCHEDULE_MISSED_AFTER_SECONDS,
        the rules on the event whose matches hold; None when nobody does."""
        event = schedule_missed_event(
            run_id=str(run.id), task_id=str(task.id), task_name=task.cy_name, scheduled_time=scheduled_time,
            occurred_at=run.created_at, late_seconds=lateness,
        )
        subscribers = [{"kind": "alert", "id": alert["id"]} for alert in await late_alerts_of(session, task.id, lateness)]
        if lateness >= self.settings.SCHEDULE_MISSED_AFTER_SECONDS:
            rules = await subscribers_of(session, SCHEDULE_MISSED, task.id, None)
            subscribers += [{"kind": "rule", "id": rule.id} for rule in rules if matches(event, rule.match)]
        return (event, subscribers) if subscribers else None
