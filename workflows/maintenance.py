"""``MaintenanceWorkflow``: fired by the ``cytasks-maintenance`` Temporal Schedule."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

STALE_PENDING_SECONDS = 120
SCHEDULE_ID = "cytasks-maintenance"
INTERVAL = timedelta(minutes=10)


@workflow.defn(name="MaintenanceWorkflow")
class MaintenanceWorkflow:
    @workflow.run
    async def run(self) -> dict:
        retry = RetryPolicy(maximum_attempts=3)
        failed = await workflow.execute_activity(
            "fail_runs_never_started",
            STALE_PENDING_SECONDS,
            result_type=list,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=retry,
        )
        reconciled = await workflow.execute_activity(
            "reconcile_schedules",
            result_type=dict,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=retry,
        )
        report = await workflow.execute_activity(
            "maintain_partitions_and_retention",
            result_type=dict,
            start_to_close_timeout=timedelta(minutes=30),
            retry_policy=retry,
        )
        return {"runs_failed_never_started": failed, "schedules": reconciled, **report}
