"""A schedule fire whose run starts late: the alert on late fires notifies, and the event
``schedule.missed`` starts a rule's target. The fire is made late for real: its task queue has
no worker when the schedule fires, and one starts a few seconds later."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from activities.runs import RunActivities
from api_test_helpers import running_app
from test_events_e2e import Receiver, deliveries, make_task, wait_for

pytestmark = [pytest.mark.stack, pytest.mark.asyncio(loop_scope="session")]

LATE_SECONDS = 3


async def test_a_late_fire_alerts_and_starts_the_rules_on_schedule_missed(client, api_settings, unique) -> None:
    import worker

    settings = api_settings.model_copy(
        update={"TASK_QUEUE": f"events-late-{uuid.uuid4().hex[:8]}", "SCHEDULE_MISSED_AFTER_SECONDS": 1}
    )
    receiver = Receiver()
    task = await make_task(client, f"Ev scheduled {unique}", "return 7")
    target = await make_task(client, f"Ev missed {unique}", "return [input.type, input.trigger, input.late_seconds > 1]")
    rule = (
        await client.post(
            "/v1/event-rules",
            json={"name": f"missed-{unique}", "event": "schedule.missed", "task_id": task["id"], "target": {"task_id": target["id"]}},
        )
    ).json()
    alert = await client.post(
        "/v1/alerts", json={"name": f"late-{unique}", "task_id": task["id"], "schedule_late_over_seconds": 1, "url": receiver.url}
    )
    assert alert.status_code == 201, alert.text
    alert = alert.json()
    try:
        async with running_app(settings) as (_, scheduling):
            made = await scheduling.put(f"/v1/tasks/{task['id']}/schedule", json={"cron": "0 0 1 1 *", "timezone": "UTC"})
            assert made.status_code == 200, made.text
            fired = await scheduling.post(f"/v1/tasks/{task['id']}/schedule/trigger")
            assert fired.status_code == 202, fired.text
            await asyncio.sleep(LATE_SECONDS)
            temporal = await worker.connect(settings)
            activities = await RunActivities.create(settings)
            async with worker.build_worker(temporal, settings, activities):
                [delivered] = await deliveries(client, f"/v1/event-rules/{rule['id']}", 1)
                [notified] = await deliveries(client, f"/v1/alerts/{alert['id']}", 1)
                started = await wait_for(client, delivered["target_run_id"])
                scheduled = await wait_for(client, delivered["source_run_id"])
            assert (await scheduling.delete(f"/v1/tasks/{task['id']}/schedule")).status_code in (200, 204)
    finally:
        receiver.close()
    assert delivered["event_type"] == notified["event_type"] == "schedule.missed"
    assert scheduled["trigger"] == "schedule" and scheduled["status"] == "completed" and scheduled["output"] == 7
    assert started["trigger"] == "event" and started["output"] == ["schedule.missed", "schedule", True]
    [(_, body)] = receiver.requests
    sent = json.loads(body)
    assert sent["event"]["run_id"] == scheduled["id"] and sent["event"]["late_seconds"] >= LATE_SECONDS - 0.5
    assert "after its schedule's fire time" in sent["text"]
