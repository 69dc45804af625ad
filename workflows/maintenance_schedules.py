"""Creating the housekeeping Temporal Schedules (once; an existing schedule is left as it is)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)

from activities.run_watch import RunWatchOptions

from .maintenance import (
    INTERVAL,
    RUN_WATCH_INTERVAL,
    RUN_WATCH_SCHEDULE_ID,
    SCHEDULE_ID,
    MaintenanceWorkflow,
    RunWatchWorkflow,
)


async def _create_once(
    client: Client, schedule_id: str, workflow: Any, args: list, *, task_queue: str, every: timedelta
) -> bool:
    try:
        await client.create_schedule(
            schedule_id,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    workflow, args=args, id=f"{schedule_id}-run", task_queue=task_queue
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
            ),
        )
    except ScheduleAlreadyRunningError:
        return False
    return True


async def ensure_maintenance_schedule(client: Client, task_queue: str) -> bool:
    """Create the housekeeping schedule once; True when this call created it."""
    return await _create_once(
        client, SCHEDULE_ID, MaintenanceWorkflow.run, [], task_queue=task_queue, every=INTERVAL
    )


async def ensure_run_watch_schedule(
    client: Client,
    task_queue: str,
    *,
    every: timedelta = RUN_WATCH_INTERVAL,
    options: RunWatchOptions | None = None,
    schedule_id: str = RUN_WATCH_SCHEDULE_ID,
) -> bool:
    """Create the run watcher's schedule once; True when this call created it."""
    return await _create_once(
        client,
        schedule_id,
        RunWatchWorkflow.run,
        [options or RunWatchOptions()],
        task_queue=task_queue,
        every=every,
    )
