"""Rules on question events end to end: a run asks a person, its question's events start the
rules' targets with the question in their input (the API, PostgreSQL, Temporal, a worker)."""

from __future__ import annotations

import pytest

from test_events_e2e import activity_types, deliveries, delivery_workflow_ids, make_task, wait_for, workflow_closed

pytestmark = [pytest.mark.stack, pytest.mark.asyncio(loop_scope="session")]

TARGET = "return {\"type\": input.type, \"question\": input.question, \"task\": input.task_name, \"depth\": input.depth}"


@pytest.fixture
def e2e(api_worker, client):
    return client


async def _rule(client, name: str, event: str, source: dict, target: dict) -> dict:
    created = await client.post(
        "/v1/event-rules",
        json={"name": name, "event": event, "task_id": source["cy_name"], "target": {"task_id": target["cy_name"]}},
    )
    assert created.status_code == 201, created.text
    return created.json()


async def test_a_rule_on_question_created_starts_its_target_with_the_question(e2e, api_worker, unique) -> None:
    script = 'a = app::human::ask("Block ${input}?", responses=["yes", "no"], assignees=["ops"])\nreturn a'
    source = await make_task(e2e, f"Qe asks {unique}", script)
    target = await make_task(e2e, f"Qe target {unique}", TARGET)
    rule = await _rule(e2e, f"q-created-{unique}", "question.created", source, target)

    run = (await e2e.post(f"/v1/tasks/{source['id']}/execute", json={"input": "10.0.0.7"})).json()
    await wait_for(e2e, run["id"], until={"paused"})
    [delivery] = await deliveries(e2e, f"/v1/event-rules/{rule['id']}", 1)
    assert delivery["status"] == "delivered" and delivery["event_type"] == "question.created", delivery
    assert delivery["source_run_id"] == run["id"]
    started = await wait_for(e2e, delivery["target_run_id"])
    question = (await e2e.get(f"/v1/task-runs/{run['id']}/questions")).json()["items"][0]
    assert started["status"] == "completed" and started["trigger"] == "event", started
    assert started["output"]["type"] == "question.created" and started["output"]["task"] == source["cy_name"]
    assert started["output"]["depth"] == 0
    sent = started["output"]["question"]
    assert sent["id"] == question["id"] and sent["question"] == "Block 10.0.0.7?"
    assert sent["responses"] == ["yes", "no"] and sent["assignees"] == ["ops"]
    assert sent["tool"] == "app::human::ask" and sent["line"] == 1 and sent["timeout_at"] is None
    assert started["input"]["run_id"] == run["id"] and started["input"]["status"] == "paused"

    answered = await e2e.post(f"/v1/task-runs/{run['id']}/respond", json={"question_id": question["id"], "answer": "yes"})
    assert answered.status_code == 202, answered.text
    assert (await wait_for(e2e, run["id"]))["output"] == "yes"
    await workflow_closed(api_worker, run["id"])
    assert "deliver_event" not in await activity_types(api_worker, run["id"])
    assert len(await delivery_workflow_ids(api_worker.client, run["id"])) == 1
    assert len((await e2e.get(f"/v1/event-rules/{rule['id']}/deliveries")).json()["items"]) == 1


async def test_a_rule_on_question_expired_starts_its_target_when_the_timeout_passes(e2e, api_worker, unique) -> None:
    script = 'a = app::human::ask("Isolate host?", responses=["yes", "no"], timeout_seconds=1, default="no")\nreturn a'
    source = await make_task(e2e, f"Qe expires {unique}", script)
    target = await make_task(e2e, f"Qe expired target {unique}", TARGET)
    rule = await _rule(e2e, f"q-expired-{unique}", "question.expired", source, target)

    run = (await e2e.post(f"/v1/tasks/{source['id']}/execute", json={})).json()
    finished = await wait_for(e2e, run["id"])
    assert finished["status"] == "completed" and finished["output"] == "no", finished
    [delivery] = await deliveries(e2e, f"/v1/event-rules/{rule['id']}", 1)
    assert delivery["status"] == "delivered" and delivery["event_type"] == "question.expired", delivery
    started = await wait_for(e2e, delivery["target_run_id"])
    question = (await e2e.get(f"/v1/task-runs/{run['id']}/questions")).json()["items"][0]
    assert question["status"] == "expired"
    assert started["status"] == "completed" and started["output"]["type"] == "question.expired", started
    assert started["output"]["question"]["id"] == question["id"]
    assert started["output"]["question"]["timeout_at"] is not None


async def test_a_question_nobody_listens_to_costs_no_activity(e2e, api_worker, unique) -> None:
    script = 'a = app::human::ask("Quiet?", responses=["yes", "no"], timeout_seconds=1, default="no")\nreturn a'
    source = await make_task(e2e, f"Qe quiet {unique}", script)
    target = await make_task(e2e, f"Qe quiet target {unique}", TARGET)
    other = await make_task(e2e, f"Qe other {unique}", "return 1")
    rule = await _rule(e2e, f"q-other-{unique}", "question.created", other, target)

    run = (await e2e.post(f"/v1/tasks/{source['id']}/execute", json={})).json()
    assert (await wait_for(e2e, run["id"]))["output"] == "no"
    await workflow_closed(api_worker, run["id"])
    assert "deliver_event" not in await activity_types(api_worker, run["id"])
    assert await delivery_workflow_ids(api_worker.client, run["id"]) == []
    assert (await e2e.get(f"/v1/event-rules/{rule['id']}/deliveries")).json()["items"] == []


async def test_a_rule_whose_target_asks_again_stops_at_the_depth_bound(e2e, api_settings, unique) -> None:
    script = 'a = app::human::ask("Again?", responses=["yes"], timeout_seconds=1, default="yes")\nreturn a'
    source = await make_task(e2e, f"Qe loop {unique}", script)
    rule = await _rule(e2e, f"q-loop-{unique}", "question.created", source, source)

    await e2e.post(f"/v1/tasks/{source['id']}/execute", json={})
    bound = api_settings.EVENT_MAX_DEPTH
    items = await deliveries(e2e, f"/v1/event-rules/{rule['id']}", bound + 1, timeout=120)
    settled = [item for item in items if item["status"] in ("delivered", "refused")]
    assert sorted(item["status"] for item in settled) == ["delivered"] * bound + ["refused"], items
    [refused] = [item for item in settled if item["status"] == "refused"]
    assert "CYTASKS_EVENT_MAX_DEPTH" in refused["error"]
