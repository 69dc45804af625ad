"""Operations on a task's or a workflow's Temporal Schedule, and the reconciliation of rows with
schedules.

The database row (``tasks.schedule``, ``workflows.schedule``) says what each schedule should be;
Temporal runs it. The operations on a schedule by its id (``*_by_id``) serve both kinds.
The API writes both; :func:`reconcile` (run at worker and API start) makes Temporal match the
rows again after anything went wrong in between: a schedule deleted or paused behind the
product's back, a write that reached one side only, a task removed from the database.
"""

from __future__ import annotations

import asyncio
import uuid
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio.client import (
    Client,
    ScheduleAlreadyRunningError,
    ScheduleBackfill,
    ScheduleDescription,
    ScheduleUpdate,
)
from temporalio.service import RPCError, RPCStatusCode

from taskrun.search_attributes import search_attributes_registered

from .spec import ScheduleSpec
from .temporal import (
    OVERLAP_TO_TEMPORAL,
    SCHEDULE_ID_PREFIX,
    action_fingerprint,
    build_schedule,
    build_workflow_schedule,
    pause_state,
    schedule_id_for,
    task_id_from_schedule_id,
    workflow_id_from_schedule_id,
    workflow_schedule_id_for,
)

logger = logging.getLogger(__name__)


class ScheduleRejected(ValueError):
    """Temporal refused the schedule as invalid (e.g. a time zone its server does not know)."""


def _is_not_found(error: RPCError) -> bool:
    return error.status == RPCStatusCode.NOT_FOUND


async def describe_by_id(client: Client, schedule_id: str) -> ScheduleDescription | None:
    try:
        return await client.get_schedule_handle(schedule_id).describe()
    except RPCError as error:
        if _is_not_found(error):
            return None
        raise


async def describe_schedule(client: Client, task_id: Any) -> ScheduleDescription | None:
    return await describe_by_id(client, schedule_id_for(task_id))


def _in_sync(description: ScheduleDescription, desired: Any) -> bool:
    current = description.schedule
    return (
        action_fingerprint(current) == action_fingerprint(desired)
        and bool(current.state.paused) == bool(desired.state.paused)
        and (current.state.note or "") == (desired.state.note or "")
    )


async def _apply_desired(client: Client, schedule_id: str, desired: Any) -> str:
    try:
        description = await describe_by_id(client, schedule_id)
        if description is None:
            try:
                await client.create_schedule(schedule_id, desired)
                return "created"
            except ScheduleAlreadyRunningError:
                description = await describe_by_id(client, schedule_id)
        if description is not None and _in_sync(description, desired):
            return "unchanged"
        await client.get_schedule_handle(schedule_id).update(lambda _input: ScheduleUpdate(schedule=desired))
        return "updated"
    except RPCError as error:
        if error.status == RPCStatusCode.INVALID_ARGUMENT:
            raise ScheduleRejected(error.message) from error
        raise


async def apply_schedule(
    client: Client,
    *,
    task_id: Any,
    task_name: str,
    task_status: str,
    spec: ScheduleSpec,
    namespace: str,
    default_task_queue: str,
) -> str:
    """Create or update the task's Temporal Schedule to match ``spec``.

    Returns "created", "updated" or "unchanged". Raises ScheduleRejected when Temporal refuses it."""
    desired = build_schedule(
        spec,
        task_id=task_id,
        task_name=task_name,
        task_status=task_status,
        task_queue=spec.task_queue or default_task_queue,
        with_search_attributes=await search_attributes_registered(client, namespace),
    )
    return await _apply_desired(client, schedule_id_for(task_id), desired)


async def apply_workflow_schedule(
    client: Client,
    *,
    workflow_id: Any,
    workflow_name: str,
    workflow_status: str,
    spec: ScheduleSpec,
    namespace: str,
    default_task_queue: str,
) -> str:
    """Create or update the workflow's Temporal Schedule to match ``spec`` (as ``apply_schedule``)."""
    desired = build_workflow_schedule(
        spec,
        workflow_id=workflow_id,
        workflow_name=workflow_name,
        workflow_status=workflow_status,
        task_queue=spec.task_queue or default_task_queue,
        with_search_attributes=await search_attributes_registered(client, namespace),
    )
    return await _apply_desired(client, workflow_schedule_id_for(workflow_id), desired)


async def remove_by_id(client: Client, schedule_id: str) -> bool:
    """Delete a Temporal Schedule; False when there was none."""
    try:
        await client.get_schedule_handle(schedule_id).delete()
    except RPCError as error:
        if _is_not_found(error):
            return False
        raise
    return True


async def remove_schedule(client: Client, task_id: Any) -> bool:
    """Delete the task's Temporal Schedule; False when there was none."""
    return await remove_by_id(client, schedule_id_for(task_id))


async def trigger_by_id(client: Client, schedule_id: str, overlap: str | None = None) -> None:
    await client.get_schedule_handle(schedule_id).trigger(overlap=OVERLAP_TO_TEMPORAL[overlap] if overlap else None)


async def trigger_schedule(client: Client, task_id: Any, overlap: str | None = None) -> None:
    await trigger_by_id(client, schedule_id_for(task_id), overlap)


async def backfill_by_id(client: Client, schedule_id: str, start: datetime, end: datetime, overlap: str) -> None:
    await client.get_schedule_handle(schedule_id).backfill(
        ScheduleBackfill(start_at=start, end_at=end, overlap=OVERLAP_TO_TEMPORAL[overlap])
    )


async def backfill_schedule(
    client: Client, task_id: Any, start: datetime, end: datetime, overlap: str
) -> None:
    await backfill_by_id(client, schedule_id_for(task_id), start, end, overlap)


async def matching_times(
    client: Client, namespace: str, task_id: Any, start: datetime, end: datetime
) -> list[datetime]:
    """The times in [start, end] at which the task's schedule matches (see ``matching_times_by_id``)."""
    return await matching_times_by_id(client, namespace, schedule_id_for(task_id), start, end)


async def matching_times_by_id(
    client: Client, namespace: str, schedule_id: str, start: datetime, end: datetime
) -> list[datetime]:
    """The times in [start, end] at which the schedule's spec matches, as Temporal computes them
    (time zone and daylight saving included; pause state and overlap ignored)."""
    from datetime import UTC

    from google.protobuf.timestamp_pb2 import Timestamp
    from temporalio.api.workflowservice.v1 import ListScheduleMatchingTimesRequest

    start_ts, end_ts = Timestamp(), Timestamp()
    # Temporal's listing leaves out a time equal to its start; make the range inclusive.
    start_ts.FromDatetime((start.astimezone(UTC) - timedelta(milliseconds=1)).replace(tzinfo=None))
    end_ts.FromDatetime(end.astimezone(UTC).replace(tzinfo=None))
    response = await client.workflow_service.list_schedule_matching_times(
        ListScheduleMatchingTimesRequest(
            namespace=namespace,
            schedule_id=schedule_id,
            start_time=start_ts,
            end_time=end_ts,
        )
    )
    return [ts.ToDatetime().replace(tzinfo=UTC) for ts in response.start_time]


@dataclass
class ReconcileReport:
    checked: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "created": self.created,
            "updated": self.updated,
            "deleted": self.deleted,
            "errors": self.errors,
        }

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)


async def _workflow_wants_schedule(sessionmaker: Any, workflow_id: str) -> bool:
    """Whether the workflow (created or scheduled since the listing began) has a schedule row."""
    from persistence.repository.workflows import get_workflow

    try:
        uuid_id = uuid.UUID(workflow_id)
    except ValueError:
        return False
    async with sessionmaker() as session:
        row = await get_workflow(session, uuid_id)
        return row is not None and row.schedule is not None


async def reconcile(
    client: Client,
    sessionmaker: Any,
    *,
    namespace: str,
    default_task_queue: str,
    concurrency: int = 16,
) -> ReconcileReport:
    """Make every Temporal Schedule match its task or workflow row, and delete the schedules no
    row wants (``cytasks-task-*`` and ``cytasks-workflow-*`` only)."""
    from persistence.repository.schedules import list_scheduled_tasks
    from persistence.repository.workflows import list_scheduled_workflows

    report = ReconcileReport()
    async with sessionmaker() as session:
        tasks = await list_scheduled_tasks(session)
        workflows = await list_scheduled_workflows(session)
    wanted = {str(task.id) for task in tasks}
    wanted_workflows = {str(row.id) for row in workflows}
    limit = asyncio.Semaphore(concurrency)

    async def repair(task: Any) -> None:
        async with limit:
            try:
                spec = ScheduleSpec.from_record(task.schedule)
                outcome = await apply_schedule(
                    client,
                    task_id=task.id,
                    task_name=task.cy_name,
                    task_status=task.status,
                    spec=spec,
                    namespace=namespace,
                    default_task_queue=default_task_queue,
                )
            except Exception as error:  # one bad row must not stop the others
                report.errors[str(task.id)] = f"{type(error).__name__}: {error}"
                return
            if outcome == "created":
                report.created.append(str(task.id))
            elif outcome == "updated":
                report.updated.append(str(task.id))

    async def repair_workflow(row: Any) -> None:
        async with limit:
            try:
                outcome = await apply_workflow_schedule(
                    client,
                    workflow_id=row.id,
                    workflow_name=row.name,
                    workflow_status=row.status,
                    spec=ScheduleSpec.from_record(row.schedule),
                    namespace=namespace,
                    default_task_queue=default_task_queue,
                )
            except Exception as error:  # one bad row must not stop the others
                report.errors[workflow_schedule_id_for(row.id)] = f"{type(error).__name__}: {error}"
                return
            if outcome == "created":
                report.created.append(workflow_schedule_id_for(row.id))
            elif outcome == "updated":
                report.updated.append(workflow_schedule_id_for(row.id))

    report.checked = len(tasks) + len(workflows)
    await asyncio.gather(*(repair(task) for task in tasks), *(repair_workflow(row) for row in workflows))

    async for listed in await client.list_schedules():
        workflow_id = workflow_id_from_schedule_id(listed.id)
        if workflow_id is not None:
            if workflow_id not in wanted_workflows and not await _workflow_wants_schedule(sessionmaker, workflow_id):
                try:
                    if await remove_by_id(client, listed.id):
                        report.deleted.append(listed.id)
                except Exception as error:
                    report.errors[listed.id] = f"{type(error).__name__}: {error}"
            continue
        task_id = task_id_from_schedule_id(listed.id)
        if task_id is None or task_id in wanted:
            continue
        async with sessionmaker() as session:
            from persistence.repository import get_task

            task = await get_task(session, task_id)
            if task is not None and task.schedule is not None:
                continue
        try:
            if await remove_schedule(client, task_id):
                report.deleted.append(task_id)
        except Exception as error:
            report.errors[listed.id] = f"{type(error).__name__}: {error}"
    if report.changed or report.errors:
        logger.info("schedule reconciliation: %s", report.as_dict())
    return report


async def reconcile_in_background(
    client_factory: Any,
    sessionmaker: Any,
    *,
    namespace: str,
    default_task_queue: str,
    attempts: int = 30,
    delay: float = 2.0,
) -> ReconcileReport | None:
    """Reconcile, retrying while the database or Temporal is not reachable yet."""
    for attempt in range(attempts):
        try:
            client = await client_factory()
            return await reconcile(
                client, sessionmaker, namespace=namespace, default_task_queue=default_task_queue
            )
        except asyncio.CancelledError:
            raise
        except Exception as error:
            logger.warning("schedule reconciliation failed (attempt %d): %s", attempt + 1, error)
            await asyncio.sleep(delay)
    return None


__all__ = [
    "SCHEDULE_ID_PREFIX",
    "ReconcileReport",
    "ScheduleRejected",
    "apply_schedule",
    "apply_workflow_schedule",
    "backfill_by_id",
    "backfill_schedule",
    "describe_by_id",
    "describe_schedule",
    "matching_times",
    "pause_state",
    "reconcile",
    "reconcile_in_background",
    "remove_by_id",
    "remove_schedule",
    "trigger_by_id",
    "trigger_schedule",
]


async def reconcile_at_start(client: Client, settings: Any) -> ReconcileReport | None:
    """The worker's start-up reconciliation (retries while the database is not reachable yet)."""
    from persistence.db import get_sessionmaker

    async def same_client() -> Client:
        return client

    return await reconcile_in_background(
        same_client,
        get_sessionmaker(settings.DATABASE_URL),
        namespace=settings.TEMPORAL_NAMESPACE,
        default_task_queue=settings.TASK_QUEUE,
    )
