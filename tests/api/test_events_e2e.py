"""Event rules and alerts end to end: the API, PostgreSQL, the Temporal dev server, an in-process
worker, and a local HTTP server as the alert webhook."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from api_test_helpers import assert_problem

pytestmark = [pytest.mark.stack, pytest.mark.asyncio(loop_scope="session")]

TERMINAL = {"completed", "failed", "cancelled", "timed_out"}
FAILING = "x = 0\nreturn 1 / x"


@pytest.fixture
def e2e(api_worker, client: httpx.AsyncClient) -> httpx.AsyncClient:
    return client


class Receiver:
    """A webhook receiver on a free local port: records every POST and answers 204."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


async def wait_for(client: httpx.AsyncClient, run_id: str, until=TERMINAL, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(f"/v1/task-runs/{run_id}")
        if response.status_code == 200 and response.json()["status"] in until:
            return response.json()
        assert time.monotonic() < deadline, f"run {run_id}: {response.text}"
        await asyncio.sleep(0.1)


async def deliveries(client: httpx.AsyncClient, path: str, count: int, timeout: float = 60) -> list[dict[str, Any]]:
    """The deliveries of a rule or alert once ``count`` of them are settled (not pending/failed)."""
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(f"{path}/deliveries", params={"limit": 200})
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        settled = [item for item in items if item["status"] in ("delivered", "refused")]
        if len(settled) >= count:
            return items
        assert time.monotonic() < deadline, f"{path}: {items}"
        await asyncio.sleep(0.1)


async def make_task(client: httpx.AsyncClient, name: str, script: str) -> dict[str, Any]:
    response = await client.post("/v1/tasks", json={"name": name, "script": script})
    assert response.status_code == 201, response.text
    return response.json()


async def execute(client: httpx.AsyncClient, task: dict[str, Any], input: Any = None) -> dict[str, Any]:
    response = await client.post(f"/v1/tasks/{task['id']}/execute", json={"input": input})
    assert response.status_code == 202, response.text
    return await wait_for(client, response.json()["id"])


async def activity_types(api_worker: Any, run_id: str) -> list[str]:
    """The regular activities the run's workflow scheduled (local activities are markers)."""
    handle = api_worker.client.get_workflow_handle(f"taskrun-{run_id}")
    history = await handle.fetch_history()
    return [
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.HasField("activity_task_scheduled_event_attributes")
    ]


async def delivery_workflow_ids(client: Any, run_id: str) -> list[str]:
    """The EventDelivery workflows the run's workflow started (and left to run on their own)."""
    history = await client.get_workflow_handle(f"taskrun-{run_id}").fetch_history()
    return [
        event.start_child_workflow_execution_initiated_event_attributes.workflow_id
        for event in history.events
        if event.HasField("start_child_workflow_execution_initiated_event_attributes")
        and event.start_child_workflow_execution_initiated_event_attributes.workflow_type.name == "EventDelivery"
    ]


async def workflow_closed(api_worker: Any, run_id: str, timeout: float = 60) -> None:
    handle = api_worker.client.get_workflow_handle(f"taskrun-{run_id}")
    deadline = time.monotonic() + timeout
    while (await handle.describe()).close_time is None:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)


async def test_a_rule_starts_its_target_with_the_event_when_a_run_fails(e2e, api_worker, unique) -> None:
    source = await make_task(e2e, f"Ev source {unique}", FAILING)
    target = await make_task(e2e, f"Ev target {unique}", 'return {"seen": input.type, "run": input.run_id, "error": input.error.type}')
    created = await e2e.post(
        "/v1/event-rules",
        json={
            "name": f"on-fail-{unique}",
            "event": "run.failed",
            "task_id": source["cy_name"],
            "match": [{"pointer": "/trigger", "equals": "api"}],
            "target": {"task_id": target["cy_name"]},
        },
    )
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["event"] == ["run.failed"] and rule["task_id"] == source["id"] and rule["target"] == {"task_id": target["id"]}
    assert created.headers["Location"] == f"/v1/event-rules/{rule['id']}"

    failed = await execute(e2e, source)
    assert failed["status"] == "failed", failed
    [delivery] = await deliveries(e2e, f"/v1/event-rules/{rule['id']}", 1)
    assert delivery["status"] == "delivered" and delivery["attempts"] == 1, delivery
    assert delivery["event_type"] == "run.failed" and delivery["source_run_id"] == failed["id"]

    started = await wait_for(e2e, delivery["target_run_id"])
    assert started["status"] == "completed", started
    assert started["trigger"] == "event" and started["task_id"] == target["id"]
    event = started["input"]
    assert event["id"] == delivery["event_id"] and event["type"] == "run.failed"
    assert event["run_id"] == failed["id"] and event["task_id"] == source["id"] and event["task_name"] == source["cy_name"]
    assert event["status"] == "failed" and event["error"]["type"] == failed["error"]["type"]
    assert event["trigger"] == "api" and event["depth"] == 0
    assert started["output"] == {"seen": "run.failed", "run": failed["id"], "error": failed["error"]["type"]}
    assert "deliver_event" not in await activity_types(api_worker, failed["id"])
    [delivering] = await delivery_workflow_ids(api_worker.client, failed["id"])
    history = await api_worker.client.get_workflow_handle(delivering).fetch_history()
    assert [
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.HasField("activity_task_scheduled_event_attributes")
    ] == ["deliver_event"]

    # A completed run of the source is not a failure: the rule does not fire.
    await e2e.patch(f"/v1/tasks/{source['id']}", json={"script": "return 1"})
    completed = await execute(e2e, source)
    assert completed["status"] == "completed"
    await workflow_closed(api_worker, completed["id"])
    assert len((await e2e.get(f"/v1/event-rules/{rule['id']}/deliveries")).json()["items"]) == 1


async def test_a_filter_that_does_not_match_starts_nothing_and_costs_no_activity(e2e, api_worker, unique) -> None:
    source = await make_task(e2e, f"Ev nomatch {unique}", FAILING)
    target = await make_task(e2e, f"Ev never {unique}", "return 1")
    rule = (
        await e2e.post(
            "/v1/event-rules",
            json={
                "name": f"never-{unique}",
                "event": ["run.failed", "run.timed_out"],
                "task_id": source["id"],
                "match": [{"pointer": "/error/type", "equals": "NoSuchError"}],
                "target": {"task_id": target["id"]},
            },
        )
    ).json()
    failed = await execute(e2e, source)
    assert failed["status"] == "failed"
    await workflow_closed(api_worker, failed["id"])
    assert (await e2e.get(f"/v1/event-rules/{rule['id']}/deliveries")).json()["items"] == []
    assert "deliver_event" not in await activity_types(api_worker, failed["id"])
    assert await delivery_workflow_ids(api_worker.client, failed["id"]) == []
    runs = (await e2e.get("/v1/task-runs", params={"task": target["id"]})).json()["items"]
    assert runs == []


async def test_a_rule_loop_stops_at_the_depth_bound_and_the_refusal_is_recorded(e2e, api_settings, unique) -> None:
    looping = await make_task(e2e, f"Ev loop {unique}", FAILING)
    rule = (
        await e2e.post(
            "/v1/event-rules",
            json={"name": f"loop-{unique}", "event": "run.failed", "task_id": looping["id"], "target": {"task_id": looping["id"]}},
        )
    ).json()
    await execute(e2e, looping)
    bound = api_settings.EVENT_MAX_DEPTH
    items = await deliveries(e2e, f"/v1/event-rules/{rule['id']}", bound + 1, timeout=120)
    assert sorted(item["status"] for item in items) == ["delivered"] * bound + ["refused"], items
    [refused] = [item for item in items if item["status"] == "refused"]
    assert refused["target_run_id"] is None and f"at most {bound} deep" in refused["error"], refused
    runs = (await e2e.get("/v1/task-runs", params={"task": looping["id"], "limit": 50})).json()["items"]
    assert len(runs) == bound + 1
    assert sorted(run["trigger"] for run in runs) == ["api"] + ["event"] * bound
    await asyncio.sleep(1)
    assert len((await e2e.get(f"/v1/event-rules/{rule['id']}/deliveries")).json()["items"]) == bound + 1


def _signed(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def test_a_failing_runs_alert_reaches_the_webhook_once_signed_and_recorded(e2e, api_worker, receiver, unique) -> None:
    task = await make_task(e2e, f"Ev alerted {unique}", FAILING)
    secret = "s3cret-" + unique
    created = await e2e.post(
        "/v1/alerts",
        json={"name": f"alert-{unique}", "task_id": task["cy_name"], "on": ["failed", "timed_out"], "url": receiver.url, "secret": secret},
    )
    assert created.status_code == 201, created.text
    alert = created.json()
    assert alert["has_secret"] is True and "secret" not in alert and alert["format"] == "json"

    failed = await execute(e2e, task)
    [delivery] = await deliveries(e2e, f"/v1/alerts/{alert['id']}", 1)
    assert delivery["status"] == "delivered" and delivery["attempts"] == 1 and delivery["delivered_at"]
    await workflow_closed(api_worker, failed["id"])
    assert len(receiver.requests) == 1, receiver.requests
    headers, body = receiver.requests[0]
    assert headers["x-cytasks-signature"] == _signed(secret, body)
    sent = json.loads(body)
    assert sent["alert"] == {"id": alert["id"], "name": alert["name"]}
    assert sent["event"]["type"] == "run.failed" and sent["event"]["run_id"] == failed["id"]
    assert sent["event"]["id"] == delivery["event_id"]
    assert failed["id"] in sent["text"] and task["cy_name"] in sent["text"] and failed["error"]["type"] in sent["text"]

    # Completed runs do not alert.
    await e2e.patch(f"/v1/tasks/{task['id']}", json={"script": "return 1"})
    done = await execute(e2e, task)
    await workflow_closed(api_worker, done["id"])
    assert len(receiver.requests) == 1


async def test_a_webhook_that_does_not_answer_does_not_hold_up_the_run(e2e, api_worker, unique) -> None:
    """The run's workflow ends with the run; its alert keeps being retried in a workflow of its own."""
    task = await make_task(e2e, f"Ev unanswered {unique}", FAILING)
    closed_port = Receiver()
    closed_port.close()
    created = await e2e.post(
        "/v1/alerts", json={"name": f"down-{unique}", "task_id": task["id"], "on": ["failed"], "url": closed_port.url}
    )
    assert created.status_code == 201, created.text
    failed = await execute(e2e, task)
    await workflow_closed(api_worker, failed["id"])
    [delivering] = await delivery_workflow_ids(api_worker.client, failed["id"])
    handle = api_worker.client.get_workflow_handle(delivering)
    deadline = time.monotonic() + 30
    while True:
        description = await handle.describe()
        attempts = max((a.attempt for a in description.raw_description.pending_activities), default=0)
        if attempts >= 2:
            break
        assert time.monotonic() < deadline, "the alert was never retried"
        await asyncio.sleep(0.2)
    assert description.close_time is None
    [delivery] = (await e2e.get(f"/v1/alerts/{created.json()['id']}/deliveries")).json()["items"]
    assert delivery["status"] == "failed" and delivery["error"], delivery
    await handle.terminate("test over")


async def test_slack_format_and_the_global_default_alert(e2e, api_worker, receiver, unique) -> None:
    own = await make_task(e2e, f"Ev own alert {unique}", FAILING)
    plain = await make_task(e2e, f"Ev default alert {unique}", FAILING)
    mine = (
        await e2e.post("/v1/alerts", json={"name": f"own-{unique}", "task_id": own["id"], "on": ["failed"], "url": receiver.url + "/own", "format": "slack"})
    ).json()
    default = (await e2e.post("/v1/alerts", json={"name": f"default-{unique}", "on": ["failed"], "url": receiver.url + "/default"})).json()
    try:
        assert default["task_id"] is None
        own_run = await execute(e2e, own)
        plain_run = await execute(e2e, plain)
        await deliveries(e2e, f"/v1/alerts/{mine['id']}", 1)
        await deliveries(e2e, f"/v1/alerts/{default['id']}", 1)
        await workflow_closed(api_worker, own_run["id"])
        await workflow_closed(api_worker, plain_run["id"])
    finally:
        assert (await e2e.delete(f"/v1/alerts/{default['id']}")).status_code == 204
    bodies = [json.loads(body) for _, body in receiver.requests]
    slack = [body for body in bodies if "blocks" in body]
    plain_bodies = [body for body in bodies if "event" in body]
    assert len(slack) == 1 and len(plain_bodies) == 1, bodies
    assert own_run["id"] in slack[0]["text"] and slack[0]["blocks"][0]["type"] == "section"
    assert "headers" not in slack[0] and set(slack[0]) == {"text", "blocks"}
    assert plain_bodies[0]["event"]["run_id"] == plain_run["id"]
    assert "x-cytasks-signature" not in receiver.requests[0][0]
    assert_problem(await e2e.get(f"/v1/alerts/{default['id']}"), 404)


async def test_rules_and_alerts_refuse_what_they_cannot_do(client, unique) -> None:
    task = await make_task(client, f"Ev checks {unique}", "return 1")
    good = {"name": f"r-{unique}", "event": "run.failed", "target": {"task_id": task["id"]}}

    async def refused(path: str, body: dict[str, Any], field: str) -> dict[str, Any]:
        problem = assert_problem(await client.post(path, json=body), 422)
        assert any(field in str(error.get("field", "")) or field in error.get("message", "") for error in problem["errors"]), problem
        return problem

    await refused("/v1/event-rules", {**good, "event": "run.exploded"}, "event")
    problem = await refused("/v1/event-rules", {**good, "event": ["run.failed", "question.answered"]}, "event")
    assert "unknown event type" in json.dumps(problem)
    await refused("/v1/event-rules", {**good, "event": "workflow_run.failed", "task_id": task["id"]}, "task_id")
    await refused("/v1/event-rules", {**good, "match": [{"pointer": "error/type", "equals": 1}]}, "pointer")
    await refused("/v1/event-rules", {**good, "match": [{"pointer": "/error/type"}]}, "match")
    await refused("/v1/event-rules", {k: v for k, v in good.items() if k != "target"}, "target")
    await refused("/v1/event-rules", {**good, "target": {}}, "target")
    await refused("/v1/event-rules", {**good, "target": {"workflow_id": "w"}}, "target")
    await refused("/v1/event-rules", {**good, "target": {"task_id": f"missing-{unique}"}}, "target.task_id")
    await refused("/v1/event-rules", {**good, "task_id": f"missing-{unique}"}, "task_id")
    await refused("/v1/event-rules", {**good, "status": ["failed"]}, "status")

    created = await client.post("/v1/event-rules", json=good)
    assert created.status_code == 201, created.text
    rule = created.json()
    [made] = (await client.get("/v1/audit", params={"target_id": rule["id"], "action": "event_rule.create"})).json()["items"]
    assert made["details"]["target"] == {"task_id": task["id"]} and made["details"]["event"] == ["run.failed"], made
    assert_problem(await client.post("/v1/event-rules", json=good), 409)
    changed = await client.patch(f"/v1/event-rules/{rule['id']}", json={"enabled": False, "event": ["run.timed_out", "run.failed"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["enabled"] is False and changed.json()["event"] == ["run.failed", "run.timed_out"]
    assert_problem(await client.patch(f"/v1/event-rules/{rule['id']}", json={"event": None}), 422)
    listed = (await client.get("/v1/event-rules", params={"limit": 200})).json()["items"]
    assert rule["id"] in [item["id"] for item in listed]
    assert (await client.delete(f"/v1/event-rules/{rule['id']}")).status_code == 204
    assert_problem(await client.get(f"/v1/event-rules/{rule['id']}"), 404)
    assert_problem(await client.get(f"/v1/event-rules/{rule['id']}/deliveries"), 404)
    assert_problem(await client.get("/v1/event-rules/not-a-uuid"), 422)

    alert = {"name": f"a-{unique}", "on": ["failed"], "url": "http://127.0.0.1:9/x"}
    await refused("/v1/alerts", {**alert, "on": ["exploded"]}, "on")
    await refused("/v1/alerts", {**alert, "url": "not a url"}, "url")
    await refused("/v1/alerts", {**alert, "format": "xml"}, "format")
    await refused("/v1/alerts", {**alert, "schedule_late_over_seconds": 0}, "schedule_late_over_seconds")
    await refused("/v1/alerts", {**alert, "question_waiting_over_seconds": -1}, "question_waiting_over_seconds")
    await refused("/v1/alerts", {**alert, "on": []}, "on")
    await refused("/v1/alerts", {**alert, "pending_over_seconds": 0}, "pending_over_seconds")
    problem = await refused("/v1/alerts", {**alert, "task_id": task["id"], "pending_over_seconds": 5}, "pending_over_seconds")
    assert "max_concurrency" in problem["detail"]
    await refused("/v1/alerts", {**alert, "task_id": f"missing-{unique}"}, "task_id")
    made = await client.post("/v1/alerts", json={**alert, "task_id": task["id"], "enabled": False})
    assert made.status_code == 201, made.text
    assert_problem(await client.patch(f"/v1/alerts/{made.json()['id']}", json={"schedule_late_over_seconds": -5}), 422)
    assert_problem(await client.patch(f"/v1/alerts/{made.json()['id']}", json={"pending_over_seconds": 5}), 422)
    assert_problem(await client.patch(f"/v1/alerts/{made.json()['id']}", json={"on": []}), 422)
    patched = await client.patch(f"/v1/alerts/{made.json()['id']}", json={"secret": "abc", "format": "slack"})
    assert patched.status_code == 200 and patched.json()["has_secret"] and patched.json()["format"] == "slack"
    audit = (await client.get("/v1/audit", params={"target_id": made.json()["id"]})).json()["items"]
    assert [entry["action"] for entry in audit] == ["alert.update", "alert.create"]
    assert audit[0]["details"]["url"] == "http://127.0.0.1:9/…" and audit[0]["details"]["format"] == "slack"
    assert "abc" not in json.dumps(audit)
    assert (await client.delete(f"/v1/alerts/{made.json()['id']}")).status_code == 204


async def test_a_run_pending_too_long_for_a_slot_alerts_once(e2e, api_worker, receiver, unique) -> None:
    created = await e2e.post("/v1/tasks", json={"name": f"Ev gated {unique}", "script": "sleep(3)\nreturn 1", "max_concurrency": 1})
    assert created.status_code == 201, created.text
    task = created.json()
    alert = await e2e.post(
        "/v1/alerts", json={"name": f"pending-{unique}", "task_id": task["id"], "pending_over_seconds": 1, "url": receiver.url, "secret": "p"}
    )
    assert alert.status_code == 201, alert.text
    alert = alert.json()
    assert alert["on"] == [] and alert["pending_over_seconds"] == 1

    first = (await e2e.post(f"/v1/tasks/{task['id']}/execute", json={})).json()
    await wait_for(e2e, first["id"], until={"running"})
    second = (await e2e.post(f"/v1/tasks/{task['id']}/execute", json={})).json()
    [delivery] = await deliveries(e2e, f"/v1/alerts/{alert['id']}", 1)
    assert delivery["event_type"] == "run.pending_too_long" and delivery["source_run_id"] == second["id"], delivery
    assert (await e2e.get(f"/v1/task-runs/{second['id']}")).json()["status"] == "pending"
    for run in (first, second):
        assert (await wait_for(e2e, run["id"]))["status"] == "completed"
        await workflow_closed(api_worker, run["id"])
    assert len((await e2e.get(f"/v1/alerts/{alert['id']}/deliveries")).json()["items"]) == 1
    [(headers, body)] = receiver.requests
    assert headers["x-cytasks-signature"] == _signed("p", body)
    sent = json.loads(body)
    assert sent["event"]["type"] == "run.pending_too_long" and sent["event"]["pending_seconds"] == 1
    assert "pending for 1 s" in sent["text"]


async def test_a_question_waiting_too_long_alerts_once(e2e, api_worker, receiver, unique) -> None:
    script = 'a = app::human::ask("Block ${input}?", responses=["yes", "no"])\nreturn a'
    task = await make_task(e2e, f"Ev asks {unique}", script)
    alert = await e2e.post(
        "/v1/alerts", json={"name": f"waiting-{unique}", "task_id": task["id"], "question_waiting_over_seconds": 1, "url": receiver.url}
    )
    assert alert.status_code == 201, alert.text
    alert = alert.json()
    assert alert["question_waiting_over_seconds"] == 1 and alert["on"] == []
    run = (await e2e.post(f"/v1/tasks/{task['id']}/execute", json={"input": "10.0.0.9"})).json()
    await wait_for(e2e, run["id"], until={"paused"})
    [delivery] = await deliveries(e2e, f"/v1/alerts/{alert['id']}", 1)
    assert delivery["event_type"] == "question.waiting_too_long" and delivery["source_run_id"] == run["id"]
    question = (await e2e.get(f"/v1/task-runs/{run['id']}/questions")).json()["items"][0]
    answered = await e2e.post(f"/v1/task-runs/{run['id']}/respond", json={"question_id": question["id"], "answer": "no"})
    assert answered.status_code == 202, answered.text
    assert (await wait_for(e2e, run["id"]))["output"] == "no"
    await workflow_closed(api_worker, run["id"])
    [(_, body)] = receiver.requests
    sent = json.loads(body)
    assert sent["event"]["question"]["id"] == question["id"] and sent["event"]["waiting_seconds"] == 1
    assert "Block 10.0.0.9?" in sent["text"]
    assert len((await e2e.get(f"/v1/alerts/{alert['id']}/deliveries")).json()["items"]) == 1


async def test_a_rule_on_a_failed_workflow_run_starts_its_target(e2e, api_worker, unique) -> None:
    failing = await make_task(e2e, f"Ev wf node {unique}", FAILING)
    target = await make_task(e2e, f"Ev wf target {unique}", "return [input.type, input.workflow_run_id, input.error.node_id]")
    workflow = await e2e.post("/v1/workflows", json={"name": f"ev-flow-{unique}", "nodes": [{"id": "boom", "task": failing["cy_name"]}], "edges": []})
    assert workflow.status_code == 201, workflow.text
    rule = (
        await e2e.post(
            "/v1/event-rules",
            json={
                "name": f"wf-{unique}",
                "event": ["workflow_run.failed", "workflow_run.cancelled"],
                "match": [{"pointer": "/workflow_name", "equals": f"ev-flow-{unique}"}],
                "target": {"task_id": target["id"]},
            },
        )
    ).json()
    started = await e2e.post(f"/v1/workflows/ev-flow-{unique}/execute", json={"input": None})
    assert started.status_code == 202, started.text
    workflow_run_id = started.json()["id"]
    [delivery] = await deliveries(e2e, f"/v1/event-rules/{rule['id']}", 1)
    assert delivery["event_type"] == "workflow_run.failed" and delivery["source_run_id"] == workflow_run_id
    ran = await wait_for(e2e, delivery["target_run_id"])
    assert ran["status"] == "completed" and ran["trigger"] == "event"
    assert ran["output"] == ["workflow_run.failed", workflow_run_id, "boom"]
    assert ran["input"]["workflow_id"] == workflow.json()["id"] and ran["input"]["depth"] == 0


async def test_the_depth_bound_holds_through_runs_a_script_starts(e2e, api_settings, unique) -> None:
    """A rule's target that runs the source task with app::tasks::run cannot restart the chain."""
    source = await make_task(e2e, f"Ev chain source {unique}", "return 1")
    caller = await make_task(e2e, f"Ev chain caller {unique}", f'return app::tasks::run("{source["cy_name"]}", {{}})')
    rule = (
        await e2e.post(
            "/v1/event-rules",
            json={"name": f"chain-{unique}", "event": "run.completed", "task_id": source["id"], "target": {"task_id": caller["id"]}},
        )
    ).json()
    await execute(e2e, source)
    bound = api_settings.EVENT_MAX_DEPTH
    items = await deliveries(e2e, f"/v1/event-rules/{rule['id']}", bound + 1, timeout=180)
    assert sorted(item["status"] for item in items) == ["delivered"] * bound + ["refused"], items
    await asyncio.sleep(1)
    assert len((await e2e.get(f"/v1/event-rules/{rule['id']}/deliveries")).json()["items"]) == bound + 1


async def test_a_rule_on_any_task_does_not_see_the_runs_rules_start(e2e, unique) -> None:
    task = await make_task(e2e, f"Ev any {unique}", "return 1")
    rule = (
        await e2e.post(
            "/v1/event-rules",
            json={
                "name": f"any-{unique}",
                "event": "run.completed",
                "match": [{"pointer": "/task_id", "equals": task["id"]}],
                "target": {"task_id": task["id"]},
            },
        )
    ).json()
    await execute(e2e, task)
    [delivery] = await deliveries(e2e, f"/v1/event-rules/{rule['id']}", 1)
    started = await wait_for(e2e, delivery["target_run_id"])
    assert (started["status"], started["trigger"]) == ("completed", "event")
    await asyncio.sleep(2)
    assert len((await e2e.get(f"/v1/event-rules/{rule['id']}/deliveries")).json()["items"]) == 1


async def test_a_delivery_tried_again_does_not_run_its_target_twice(e2e, api_worker, api_settings, unique) -> None:
    from temporalio.testing import ActivityEnvironment

    from activities.events import EventActivities
    from storage import make_blob_store

    source = await make_task(e2e, f"Ev twice source {unique}", FAILING)
    target = await make_task(e2e, f"Ev twice target {unique}", "return 1")
    rule = (
        await e2e.post(
            "/v1/event-rules",
            json={"name": f"twice-{unique}", "event": "run.failed", "task_id": source["id"], "target": {"task_id": target["id"]}},
        )
    ).json()
    failed = await execute(e2e, source)
    [delivery] = await deliveries(e2e, f"/v1/event-rules/{rule['id']}", 1)
    first = await wait_for(e2e, delivery["target_run_id"])
    assert first["status"] == "completed"

    event = (await e2e.get(f"/v1/task-runs/{first['id']}")).json()["input"]
    assert event["run_id"] == failed["id"]
    activities = EventActivities(api_settings, make_blob_store(api_settings))
    environment = ActivityEnvironment(client=api_worker.client)
    again = await environment.run(activities._start_rule_target, event, rule["id"])
    assert str(again) == first["id"]
    executions = [
        execution
        async for execution in api_worker.client.list_workflows(f"WorkflowId = 'taskrun-{first['id']}'")
    ]
    assert len(executions) == 1, executions


async def test_an_alert_url_is_shown_without_its_path(e2e, unique) -> None:
    """A Slack incoming webhook's path is its credential: readers see scheme and host only."""
    created = await e2e.post(
        "/v1/alerts",
        json={"name": f"slack-url-{unique}", "on": ["failed"], "url": "https://user:pw@hooks.example.com/services/T0/B0/SECRET?x=1", "enabled": False},
    )
    assert created.status_code == 201, created.text
    shown = (await e2e.get(f"/v1/alerts/{created.json()['id']}")).json()
    assert shown["url"] == "https://hooks.example.com/…", shown
    assert "SECRET" not in json.dumps((await e2e.get("/v1/alerts", params={"limit": 200})).json())
