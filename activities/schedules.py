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

from jsonschema import exceptions as jsonschema_exceptions
from jsonschema.validators import validator_for
from temporalio import activity

from persistence.db import get_sessionmaker
from persistence.ids import new_run_id
from persistence.repository import create_run, finish_run, get_task, get_version, set_run_workflow
from persistence.repository.schedules import SCHEDULE_CREATOR, backfill_creator, find_run_by_workflow_run
from settings import Settings
from storage.blobs import BlobStore, make_blob_store
from storage.values import load_value, run_value_key, store_value
from workflows.types import TaskRunRequest

log = logging.getLogger("cytasks.schedules")

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
        cls = validator_for(schema)
        failures = list(cls(schema, format_checker=cls.FORMAT_CHECKER).iter_errors(value))
    except jsonschema_exceptions.SchemaError as error:
        return f"the task's input_schema is invalid: {error.message}"
    if not failures:
        return None
    first = failures[0]
    return f"input at {first.json_path}: {first.message}"


class ScheduleActivities:
    def __init__(self, settings: Settings, blobs: BlobStore | None = None) -> None:
        self.settings = settings
        self.blobs = blobs or make_blob_store(settings)
        self.sessions = get_sessionmaker(settings.DATABASE_URL)

    @activity.defn(name="prepare_scheduled_run")
    async def prepare_scheduled_run(self, request: TaskRunRequest) -> TaskRunRequest | None:
        info = activity.info()
        scheduled_time = request.scheduled_time
        if scheduled_time is not None and scheduled_time.tzinfo is None:
            scheduled_time = scheduled_time.replace(tzinfo=UTC)
        try:
            task_id = uuid.UUID(str(request.task_id))
        except ValueError:
            log.warning("schedule fire %s names no valid task id (%r): skipped", info.workflow_id, request.task_id)
            return None
        async with self.sessions() as session, session.begin():
            task = await get_task(session, task_id)
            if task is None:
                log.warning("schedule fire %s: task %s no longer exists: skipped", info.workflow_id, task_id)
                return None
            if task.status != "enabled" or task.schedule is None:
                log.info(
                    "schedule fire %s: task %s is %s%s: skipped",
                    info.workflow_id,
                    task.cy_name,
                    task.status,
                    "" if task.schedule is not None else " and unscheduled",
                )
                return None
            since = datetime.now(UTC) - RETRY_LOOKBACK
            run = await find_run_by_workflow_run(session, task.id, info.workflow_run_id, since)
            if run is None:
                run_id = new_run_id()
                backfill_id = backfill_for(task.schedule, scheduled_time)
                stored = await store_value(
                    request.input,
                    self.settings.INLINE_THRESHOLD_BYTES,
                    self.blobs,
                    run_value_key(run_id, "input"),
                )
                run = await create_run(
                    session,
                    run_id=run_id,
                    trigger="schedule",
                    task_id=task.id,
                    task_version=task.version,
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
                problem = input_errors(task.input_schema, request.input)
                if problem is not None:
                    await finish_run(
                        session,
                        run.id,
                        status="failed",
                        error={
                            "type": "InputValidationFailed",
                            "message": f"The schedule's input no longer matches the task's input_schema: {problem}",
                            "line": 0,
                            "column": 0,
                        },
                    )
                    return None
            elif run.status != "pending":
                # A retried attempt after the run already moved on: nothing more to start.
                if run.status in ("completed", "failed", "cancelled", "timed_out"):
                    return None
            pinned: Any = task
            if run.task_version is not None and run.task_version != task.version:
                pinned = await get_version(session, task.id, run.task_version) or task
            run_input = request.input
            if run.input_storage != "inline":
                run_input = await load_value(run.input_storage, run.input_inline, run.input_ref, self.blobs)
            return TaskRunRequest(
                run_id=str(run.id),
                script=pinned.script,
                input=run_input,
                task_id=str(task.id),
                task_name=task.cy_name,
                task_version=run.task_version,
                directive=pinned.directive,
                llm_config=dict(pinned.llm_config or {}),
                timeout_seconds=pinned.timeout_seconds,
                trigger="schedule",
                scheduled_time=scheduled_time,
                max_concurrency=task.max_concurrency,
            )
