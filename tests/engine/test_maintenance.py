"""The maintenance workflow: runs whose workflow never started are failed, never left pending."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.worker import Worker

from activities.maintenance import MaintenanceActivities
from persistence.db import get_sessionmaker
from persistence.ids import new_run_id
from persistence.repository import create_run, get_run
from storage.blobs import make_blob_store
from taskrun.client import start_task_run
from workflows.maintenance import MaintenanceWorkflow
from taskrun.contract import TaskRunRequest

pytestmark = pytest.mark.stack


async def record_run(sessions, created_at: datetime) -> str:
    async with sessions() as session, session.begin():
        row = await create_run(
            session, trigger="api", cy_script="return 1", run_id=new_run_id(at=created_at)
        )
        return str(row.id)


async def test_maintenance_fails_only_runs_whose_workflow_never_started(temporal_client, engine_settings):
    sessions = get_sessionmaker(engine_settings.DATABASE_URL)
    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    orphan = await record_run(sessions, long_ago)
    recent = await record_run(sessions, datetime.now(UTC))
    queued = await record_run(sessions, long_ago)
    handle = await start_task_run(
        temporal_client,
        TaskRunRequest(run_id=queued, script="return 1"),
        task_queue=f"no-worker-{uuid.uuid4()}",
        eager=False,
    )
    activities = MaintenanceActivities(engine_settings, make_blob_store(engine_settings))
    queue = f"maintenance-{uuid.uuid4()}"
    try:
        async with Worker(
            temporal_client,
            task_queue=queue,
            workflows=[MaintenanceWorkflow],
            activities=[
                activities.fail_runs_never_started,
                activities.reconcile_schedules,
                activities.maintain_partitions_and_retention,
            ],
        ):
            report = await temporal_client.execute_workflow(
                MaintenanceWorkflow.run, id=f"maintenance-test-{uuid.uuid4()}", task_queue=queue
            )
    finally:
        await handle.terminate("test over")
    assert orphan in report["runs_failed_never_started"]
    assert recent not in report["runs_failed_never_started"]
    assert queued not in report["runs_failed_never_started"]
    async with sessions() as session:
        orphan_row = await get_run(session, orphan)
        assert orphan_row.status == "failed"
        assert orphan_row.error["type"] == "WorkflowNeverStarted"
        assert (await get_run(session, recent)).status == "pending"
        assert (await get_run(session, queued)).status == "pending"
