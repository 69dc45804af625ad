"""A rule's delivery survives a worker restart between the source run's failure and the delivery:
the delivery is an activity in the history of the event's delivery workflow, so the next worker
to poll delivers it."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from temporalio.worker import Worker

from activities.events import EventActivities
from activities.runs import RunActivities
from persistence.db import get_sessionmaker
from persistence.repository import create_run
from persistence.repository.tasks import get_task
from taskrun.client import start_task_run
from taskrun.contract import TaskRunRequest

from test_events_e2e import FAILING, deliveries, delivery_workflow_ids, make_task, wait_for

pytestmark = [pytest.mark.stack, pytest.mark.asyncio(loop_scope="session")]

UNREACHABLE_DATABASE = "postgresql+psycopg://nobody:nothing@127.0.0.1:1/none"


def worker_that_cannot_deliver(client, settings, activities: RunActivities) -> Worker:
    """A real worker whose event deliveries cannot reach the database (everything else can)."""
    import worker

    broken = EventActivities(settings.model_copy(update={"DATABASE_URL": UNREACHABLE_DATABASE}), activities.blobs)
    functions = [fn for fn in worker.activity_functions(settings, activities) if getattr(fn, "__name__", "") != "deliver_event"]
    return Worker(
        client,
        task_queue=settings.TASK_QUEUE,
        workflows=[worker.TaskRunWorkflow, worker.EventDeliveryWorkflow],
        activities=[*functions, broken.deliver_event],
        workflow_runner=worker.workflow_runner(False),
    )


async def start_source(settings, client, task_ident: str) -> str:
    async with get_sessionmaker(settings.DATABASE_URL)() as session, session.begin():
        task = await get_task(session, task_ident)
        row = await create_run(session, trigger="api", task_id=task.id, task_version=task.version)
        request = TaskRunRequest.for_task(run_id=str(row.id), task=task, pinned=task, input=None, trigger="api")
    await start_task_run(client, request, task_queue=settings.TASK_QUEUE, namespace=settings.TEMPORAL_NAMESPACE)
    return request.run_id


async def delivery_attempts(client, run_id: str) -> int:
    attempts = 0
    for workflow_id in await delivery_workflow_ids(client, run_id):
        description = await client.get_workflow_handle(workflow_id).describe()
        attempts = max([attempts, *(activity.attempt for activity in description.raw_description.pending_activities)])
    return attempts


async def test_the_delivery_survives_a_worker_restart(client, api_settings, unique) -> None:
    import worker

    settings = api_settings.model_copy(update={"TASK_QUEUE": f"events-restart-{uuid.uuid4().hex[:8]}"})
    source = await make_task(client, f"Ev restart {unique}", FAILING)
    target = await make_task(client, f"Ev restart target {unique}", "return input.run_id")
    rule = (
        await client.post(
            "/v1/event-rules",
            json={"name": f"restart-{unique}", "event": "run.failed", "task_id": source["id"], "target": {"task_id": target["id"]}},
        )
    ).json()
    temporal = await worker.connect(settings)
    activities = await RunActivities.create(settings)

    async with worker_that_cannot_deliver(temporal, settings, activities):
        run_id = await start_source(settings, temporal, source["id"])
        assert (await wait_for(client, run_id))["status"] == "failed"
        deadline = time.monotonic() + 30
        while await delivery_attempts(temporal, run_id) < 2:
            assert time.monotonic() < deadline, "the delivery was never retried"
            await asyncio.sleep(0.2)
    assert (await client.get(f"/v1/event-rules/{rule['id']}/deliveries")).json()["items"] == []

    async with worker.build_worker(temporal, settings, activities):
        [delivery] = await deliveries(client, f"/v1/event-rules/{rule['id']}", 1, timeout=90)
        assert delivery["status"] == "delivered" and delivery["source_run_id"] == run_id
        started = await wait_for(client, delivery["target_run_id"])
    assert started["status"] == "completed" and started["output"] == run_id and started["trigger"] == "event"
