"""Housekeeping: runs whose workflow never started, day partitions, retention."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

from temporalio import activity

from persistence.db import get_engine, get_sessionmaker
from persistence.maintenance import run_maintenance
from persistence.repository import finish_run, list_stale_pending_runs
from settings import Settings
from storage.blobs import BlobStore
from taskrun.client import workflow_exists
from taskrun.contract import run_error

NEVER_STARTED = run_error(
    "WorkflowNeverStarted",
    "The run was recorded but its workflow never started (the API process stopped "
    "between the two); it was not executed. Submit it again.",
)


class MaintenanceActivities:
    def __init__(self, settings: Settings, blobs: BlobStore) -> None:
        self.settings = settings
        self.blobs = blobs
        self.sessions = get_sessionmaker(settings.DATABASE_URL)

    @activity.defn(name="fail_runs_never_started")
    async def fail_runs_never_started(self, older_than_seconds: float) -> list[str]:
        """Fail pending runs old enough that their workflow should exist, when it does not."""
        async with self.sessions() as session:
            stale = await list_stale_pending_runs(session, timedelta(seconds=older_than_seconds))
            candidates = [(str(run.id), run.workflow_id) for run in stale]
        failed = []
        client = activity.client()
        for run_id, workflow_id in candidates:
            if await workflow_exists(client, run_id, workflow_id=workflow_id):
                continue
            async with self.sessions() as session, session.begin():
                if await finish_run(session, run_id, status="failed", error=NEVER_STARTED):
                    failed.append(run_id)
        if failed:
            activity.logger.warning("failed %d runs whose workflow never started", len(failed))
        return failed

    @activity.defn(name="reconcile_schedules")
    async def reconcile_schedules(self) -> dict:
        """Repair drift between task rows and Temporal Schedules (also done at start)."""
        from schedules.service import reconcile

        report = await reconcile(
            activity.client(),
            self.sessions,
            namespace=self.settings.TEMPORAL_NAMESPACE,
            default_task_queue=self.settings.TASK_QUEUE,
        )
        return report.as_dict()

    @activity.defn(name="maintain_partitions_and_retention")
    async def maintain_partitions_and_retention(self) -> dict:
        report = await run_maintenance(
            get_engine(self.settings.DATABASE_URL),
            retention_days=self.settings.RUN_RETENTION_DAYS,
            days_ahead=self.settings.PARTITION_DAYS_AHEAD,
            delete_blob=self.blobs.delete,
        )
        return {key: [str(v) for v in value] if isinstance(value, list) else value
                for key, value in asdict(report).items()}
