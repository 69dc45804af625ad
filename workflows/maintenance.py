"""``MaintenanceWorkflow`` and ``RunWatchWorkflow``, fired by the ``cytasks-maintenance`` and
``cytasks-run-watch`` Temporal Schedules."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.maintenance import MaintenanceActivities
    from activities.run_watch import RunWatchActivities, RunWatchOptions, RunWatchReport

STALE_PENDING_SECONDS = 120
SCHEDULE_ID = "cytasks-maintenance"
INTERVAL = timedelta(minutes=10)
RUN_WATCH_SCHEDULE_ID = "cytasks-run-watch"
RUN_WATCH_INTERVAL = timedelta(seconds=30)


@workflow.defn(name="MaintenanceWorkflow")
class MaintenanceWorkflow:
    @workflow.run
    async def run(self) -> dict:
        retry = RetryPolicy(maximum_attempts=3)
        failed = await workflow.execute_activity_method(
            MaintenanceActivities.fail_runs_never_started,
            STALE_PENDING_SECONDS,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=retry,
        )
        reconciled = await workflow.execute_activity_method(
            MaintenanceActivities.reconcile_schedules,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=retry,
        )
        report = await workflow.execute_activity_method(
            MaintenanceActivities.maintain_partitions_and_retention,
            start_to_close_timeout=timedelta(minutes=30),
            retry_policy=retry,
        )
        return {"runs_failed_never_started": failed, "schedules": reconciled, **report}


@workflow.defn(name="RunWatchWorkflow")
class RunWatchWorkflow:
    """Brings rows in line with workflows closed outside the API, and forces overdue cancels."""

    @workflow.run
    async def run(self, options: RunWatchOptions | None = None) -> RunWatchReport:
        return await workflow.execute_activity_method(
            RunWatchActivities.reconcile_runs,
            options or RunWatchOptions(),
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=timedelta(minutes=1),
            retry_policy=RetryPolicy(maximum_attempts=2),
        )
