"""Rules whose target is a workflow, end to end: the event starts a workflow run (trigger
``event``, the event as its input) once per rule and event, and what cannot run is refused and
recorded (the API, PostgreSQL, Temporal, a worker)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from api_test_helpers import assert_problem
from test_events_e2e import FAILING, deliveries, execute, make_task

pytestmark = [pytest.mark.stack, pytest.mark.asyncio(loop_scope="session")]

ENDED = {"completed", "failed", "cancelled"}


@pytest.fixture
def e2e(api_worker, client: httpx.AsyncClient) -> httpx.AsyncClient:
    return client


async def make_workflow(client: httpx.AsyncClient, name: str, task: dict[str, Any], **fields: Any) -> dict[str, Any]:
    created = await client.post("/v1/workflows", json={"name": name, "nodes": [{"id": "only", "task": task["cy_name"]}], "edges": [], **fields})
    assert created.status_code == 201, created.text
    return created.json()


async def make_rule(client: httpx.AsyncClient, name: str, source: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    created = await client.post(
        "/v1/event-rules", json={"name": name, "event": "run.failed", "task_id": source["id"], "target": target}
    )
    assert created.status_code == 201, created.text
    return created.json()


async def workflow_run(client: httpx.AsyncClient, run_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(f"/v1/workflow-runs/{run_id}")
        if response.status_code == 200 and response.json()["status"] in ENDED:
            return response.json()
        assert time.monotonic() < deadline, f"workflow run {run_id}: {response.text}"
        await asyncio.sleep(0.1)


async def test_a_rule_with_a_workflow_target_starts_the_workflow_run_on_a_failure(e2e, unique) -> None:
    source = await make_task(e2e, f"Wt source {unique}", FAILING)
    step = await make_task(e2e, f"Wt step {unique}", "return [input.type, input.run_id, input.depth]")
    workflow = await make_workflow(e2e, f"wt-flow-{unique}", step)
    rule = await make_rule(e2e, f"wt-{unique}", source, {"workflow_id": workflow["name"]})
    assert rule["target"] == {"workflow_id": workflow["id"]}

    failed = await execute(e2e, source)
    [delivery] = await deliveries(e2e, f"/v1/event-rules/{rule['id']}", 1)
    assert delivery["status"] == "delivered" and delivery["event_type"] == "run.failed", delivery
    ran = await workflow_run(e2e, delivery["target_run_id"])
    assert ran["status"] == "completed" and ran["trigger"] == "event", ran
    assert ran["workflow_id"] == workflow["id"]
    assert ran["input"]["id"] == delivery["event_id"] and ran["input"]["run_id"] == failed["id"]
    [node] = ran["nodes"]
    node_run = (await e2e.get(f"/v1/task-runs/{node['task_run_ids'][0]}")).json()
    assert node_run["output"] == ["run.failed", failed["id"], 0]
    again = (await e2e.get("/v1/workflow-runs", params={"workflow": workflow["id"], "limit": 10})).json()["items"]
    assert [item["id"] for item in again] == [ran["id"]]


async def test_a_workflow_target_that_cannot_take_the_event_is_refused_and_recorded(e2e, unique) -> None:
    source = await make_task(e2e, f"Wt refused src {unique}", FAILING)
    step = await make_task(e2e, f"Wt refused step {unique}", "return 1")
    strict = await make_workflow(
        e2e, f"wt-strict-{unique}", step, input_schema={"type": "object", "required": ["ticket"]}
    )
    disabled = await make_workflow(e2e, f"wt-off-{unique}", step)
    schema_rule = await make_rule(e2e, f"wt-schema-{unique}", source, {"workflow_id": strict["id"]})
    off_rule = await make_rule(e2e, f"wt-off-{unique}", source, {"workflow_id": disabled["id"]})
    patched = await e2e.patch(f"/v1/workflows/{disabled['id']}", json={"status": "disabled"})
    assert patched.status_code == 200, patched.text

    await execute(e2e, source)
    [schema_delivery] = await deliveries(e2e, f"/v1/event-rules/{schema_rule['id']}", 1)
    assert schema_delivery["status"] == "refused" and schema_delivery["target_run_id"] is None, schema_delivery
    assert "input_schema" in schema_delivery["error"] and "ticket" in schema_delivery["error"]
    [off_delivery] = await deliveries(e2e, f"/v1/event-rules/{off_rule['id']}", 1)
    assert off_delivery["status"] == "refused" and "disabled" in off_delivery["error"], off_delivery
    listed = (await e2e.get("/v1/workflow-runs", params={"workflow": strict["id"], "limit": 10})).json()["items"]
    assert listed == []


async def test_rules_refuse_a_workflow_target_they_cannot_name(client, unique) -> None:
    task = await make_task(client, f"Wt checks {unique}", "return 1")
    good = {"name": f"wt-check-{unique}", "event": "run.failed", "task_id": task["id"], "target": {"task_id": task["id"]}}
    missing = assert_problem(await client.post("/v1/event-rules", json={**good, "target": {"workflow_id": f"nope-{unique}"}}), 422)
    assert [error["field"] for error in missing["errors"]] == ["target.workflow_id"], missing
    both = assert_problem(
        await client.post("/v1/event-rules", json={**good, "target": {"task_id": task["id"], "workflow_id": "w"}}), 422
    )
    assert "not both" in str(both)
    workflow = await make_workflow(client, f"wt-check-flow-{unique}", task)
    rule = (await client.post("/v1/event-rules", json=good)).json()
    moved = await client.patch(f"/v1/event-rules/{rule['id']}", json={"target": {"workflow_id": workflow["name"]}})
    assert moved.status_code == 200 and moved.json()["target"] == {"workflow_id": workflow["id"]}, moved.text
    back = await client.patch(f"/v1/event-rules/{rule['id']}", json={"target": {"task_id": task["cy_name"]}})
    assert back.status_code == 200 and back.json()["target"] == {"task_id": task["id"]}, back.text


async def test_a_workflow_that_restarts_itself_on_its_failure_stops_at_the_depth_bound(e2e, api_settings, unique) -> None:
    failing = await make_task(e2e, f"Wt loop node {unique}", FAILING)
    workflow = await make_workflow(e2e, f"wt-loop-{unique}", failing)
    created = await e2e.post(
        "/v1/event-rules",
        json={
            "name": f"wt-loop-{unique}",
            "event": "workflow_run.failed",
            "match": [{"pointer": "/workflow_id", "equals": workflow["id"]}],
            "target": {"workflow_id": workflow["id"]},
        },
    )
    assert created.status_code == 201, created.text
    rule = created.json()
    started = await e2e.post(f"/v1/workflows/{workflow['id']}/execute", json={"input": None})
    assert started.status_code == 202, started.text
    bound = api_settings.EVENT_MAX_DEPTH
    items = await deliveries(e2e, f"/v1/event-rules/{rule['id']}", bound + 1, timeout=180)
    assert sorted(item["status"] for item in items) == ["delivered"] * bound + ["refused"], items
    [refused] = [item for item in items if item["status"] == "refused"]
    assert "CYTASKS_EVENT_MAX_DEPTH" in refused["error"], refused
    runs = (await e2e.get("/v1/workflow-runs", params={"workflow": workflow["id"], "limit": 50})).json()["items"]
    assert sorted(run["trigger"] for run in runs) == ["api"] + ["event"] * bound
