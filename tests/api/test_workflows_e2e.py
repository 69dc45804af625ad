"""Workflows end to end through HTTP: definitions checked on save, runs whose task nodes are
child task runs, pauses, cancellation and the listings."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from api_test_helpers import assert_problem, engine_importable

pytestmark = [
    pytest.mark.stack,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.skipif(not engine_importable(), reason="taskrun.client / the worker are not importable yet"),
]

TERMINAL = {"completed", "failed", "cancelled", "timed_out"}


@pytest.fixture
def e2e(api_worker, client: httpx.AsyncClient) -> httpx.AsyncClient:
    return client


async def make_task(client: httpx.AsyncClient, name: str, script: str, **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/tasks", json={"name": name, "cy_name": name, "script": script, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def make_workflow(client: httpx.AsyncClient, name: str, nodes: list, edges: list, **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/workflows", json={"name": name, "nodes": nodes, "edges": edges, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def run_workflow(client: httpx.AsyncClient, name: str, input: Any = None, **headers: str) -> dict[str, Any]:
    response = await client.post(f"/v1/workflows/{name}/execute", json={"input": input}, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()


async def wait_for(client: httpx.AsyncClient, run_id: str, until=TERMINAL, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(f"/v1/workflow-runs/{run_id}")
        assert response.status_code == 200, response.text
        run = response.json()
        if run["status"] in until:
            return run
        assert time.monotonic() < deadline, f"workflow run {run_id} still {run['status']}"
        await asyncio.sleep(0.1)


def node(run: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(item for item in run["nodes"] if item["node_id"] == node_id)


async def test_a_chain_feeds_each_result_to_the_next_node(e2e: httpx.AsyncClient, unique: str) -> None:
    await make_task(e2e, f"double_{unique}", "return input * 2", output_schema={"type": "integer"})
    await make_task(e2e, f"inc_{unique}", "return input + 1", input_schema={"type": "integer"})
    await make_workflow(
        e2e,
        f"chain-{unique}",
        [{"id": "a", "task": f"double_{unique}"}, {"id": "b", "task": f"inc_{unique}"}],
        [{"from": "a", "to": "b"}],
        input_schema={"type": "integer"},
    )
    started = await run_workflow(e2e, f"chain-{unique}", 20)
    run = await wait_for(e2e, started["id"])
    assert run["status"] == "completed", run
    assert run["output"] == 41
    assert run["workflow_version"] == 1
    assert [(n["node_id"], n["status"]) for n in run["nodes"]] == [("a", "completed"), ("b", "completed")]
    child = (await e2e.get(f"/v1/task-runs/{node(run, 'b')['task_run_id']}")).json()
    assert (child["trigger"], child["input"], child["output"]) == ("workflow_node", 40, 41)
    assert (child["parent_workflow_run_id"], child["workflow_node_instance_id"]) == (run["id"], "b")
    listed = (await e2e.get("/v1/task-runs", params={"trigger": "workflow_node", "limit": 200})).json()["items"]
    assert {node(run, "a")["task_run_id"], node(run, "b")["task_run_id"]} <= {item["id"] for item in listed}
    graph = (await e2e.get(f"/v1/workflow-runs/{run['id']}/graph")).json()
    assert graph["edges"] == [{"from": "a", "to": "b", "state": "taken"}]


async def test_fan_out_merge_collect_and_foreach(e2e: httpx.AsyncClient, unique: str) -> None:
    await make_task(e2e, f"geo_{unique}", 'return {"ip": input.ip, "geo": {"country": "NL"}}')
    await make_task(e2e, f"rep_{unique}", 'return {"geo": {"asn": 64500}, "score": 7}')
    await make_task(e2e, f"square_{unique}", "sleep(0.3)\nreturn input * input")
    await make_workflow(
        e2e,
        f"fan-{unique}",
        [
            {"id": "start", "kind": "identity"},
            {"id": "geo", "task": f"geo_{unique}"},
            {"id": "rep", "task": f"rep_{unique}"},
            {"id": "merged", "kind": "merge"},
            {"id": "both", "kind": "collect"},
            {"id": "squares", "kind": "foreach", "task": f"square_{unique}", "items": "/1/1/numbers", "concurrency": 2},
        ],
        [
            {"from": "start", "to": "geo"},
            {"from": "start", "to": "rep"},
            {"from": "geo", "to": "merged"},
            {"from": "rep", "to": "merged"},
            {"from": "geo", "to": "both"},
            {"from": "start", "to": "both"},
            {"from": "merged", "to": "squares"},
            {"from": "both", "to": "squares"},
        ],
    )
    run = await wait_for(e2e, (await run_workflow(e2e, f"fan-{unique}", {"ip": "10.1.1.1", "numbers": [1, 2, 3, 4]}))["id"])
    assert run["status"] == "completed", run
    assert run["output"] == [1, 4, 9, 16]
    squares = node(run, "squares")
    assert len(squares["task_run_ids"]) == 4
    items = [(await e2e.get(f"/v1/task-runs/{run_id}")).json() for run_id in squares["task_run_ids"]]
    windows = [(item["started_at"], item["completed_at"]) for item in items]
    assert max(sum(1 for s, e in windows if s <= start < e) for start, _ in windows) <= 2
    geo_started = node(run, "geo")["started_at"]
    rep_started = node(run, "rep")["started_at"]
    assert geo_started < node(run, "rep")["completed_at"] and rep_started < node(run, "geo")["completed_at"]


async def test_merge_result_reaches_the_next_task(e2e: httpx.AsyncClient, unique: str) -> None:
    await make_task(e2e, f"a_{unique}", 'return {"x": {"a": 1}}')
    await make_task(e2e, f"b_{unique}", 'return {"x": {"b": 2}, "y": 3}')
    await make_task(e2e, f"show_{unique}", "return input")
    await make_workflow(
        e2e,
        f"merge-{unique}",
        [
            {"id": "a", "task": f"a_{unique}"},
            {"id": "b", "task": f"b_{unique}"},
            {"id": "m", "kind": "merge"},
            {"id": "s", "task": f"show_{unique}"},
        ],
        [{"from": "a", "to": "b"}, {"from": "a", "to": "m"}, {"from": "b", "to": "m"}, {"from": "m", "to": "s"}],
    )
    run = await wait_for(e2e, (await run_workflow(e2e, f"merge-{unique}"))["id"])
    assert run["output"] == {"x": {"a": 1, "b": 2}, "y": 3}


async def test_on_error_fail_and_continue(e2e: httpx.AsyncClient, unique: str) -> None:
    await make_task(e2e, f"boom_{unique}", "return 1 / 0")
    await make_task(e2e, f"after_{unique}", 'return input ?? "no lookup"')
    for on_error in ("fail", "continue"):
        await make_workflow(
            e2e,
            f"err-{on_error}-{unique}",
            [{"id": "lookup", "task": f"boom_{unique}", "on_error": on_error}, {"id": "next", "task": f"after_{unique}"}],
            [{"from": "lookup", "to": "next"}],
        )
    failed = await wait_for(e2e, (await run_workflow(e2e, f"err-fail-{unique}"))["id"])
    assert failed["status"] == "failed"
    assert failed["error"]["type"] == "NodeFailed" and failed["error"]["node_id"] == "lookup"
    assert "division" in failed["error"]["message"].lower()
    assert node(failed, "next")["status"] == "skipped"
    assert node(failed, "next")["task_run_ids"] == []
    continued = await wait_for(e2e, (await run_workflow(e2e, f"err-continue-{unique}"))["id"])
    assert continued["status"] == "completed", continued
    assert continued["output"] == "no lookup"
    assert node(continued, "lookup")["status"] == "failed" and node(continued, "lookup")["continued"] is True
    assert "division" in node(continued, "lookup")["error"]["message"].lower()


async def test_a_paused_node_pauses_the_run_until_answered(e2e: httpx.AsyncClient, unique: str) -> None:
    await make_task(e2e, f"ask_{unique}", 'v = app::human::ask("Block ${input}?", responses=["block", "allow"])\nreturn v')
    await make_task(e2e, f"wrap_{unique}", 'return {"verdict": input}')
    await make_workflow(
        e2e,
        f"ask-{unique}",
        [{"id": "decide", "task": f"ask_{unique}"}, {"id": "wrap", "task": f"wrap_{unique}"}],
        [{"from": "decide", "to": "wrap"}],
    )
    started = await run_workflow(e2e, f"ask-{unique}", "10.0.0.9")
    paused = await wait_for(e2e, started["id"], until={"paused"})
    question = node(paused, "decide")["question"]
    assert node(paused, "decide")["status"] == "paused"
    assert question["question"] == "Block 10.0.0.9?" and question["responses"] == ["block", "allow"]
    answered = await e2e.post(f"/v1/task-runs/{question['run_id']}/respond", json={"answer": "block"})
    assert answered.status_code == 202, answered.text
    run = await wait_for(e2e, started["id"])
    assert run["status"] == "completed", run
    assert run["output"] == {"verdict": "block"}


async def test_cancel_cascades_to_running_nodes(e2e: httpx.AsyncClient, unique: str) -> None:
    await make_task(e2e, f"slow_{unique}", "sleep(60)\nreturn 1")
    await make_workflow(
        e2e,
        f"slow-{unique}",
        [
            {"id": "start", "kind": "identity"},
            {"id": "s1", "task": f"slow_{unique}"},
            {"id": "s2", "task": f"slow_{unique}"},
            {"id": "m", "kind": "collect"},
        ],
        [{"from": "start", "to": "s1"}, {"from": "start", "to": "s2"}, {"from": "s1", "to": "m"}, {"from": "s2", "to": "m"}],
    )
    started = await run_workflow(e2e, f"slow-{unique}")
    deadline = time.monotonic() + 30
    while True:
        run = await wait_for(e2e, started["id"], until={"running", "paused", *TERMINAL})
        if all(n["task_run_ids"] for n in run["nodes"] if n["kind"] == "task"):
            break
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    cancelled = await e2e.post(f"/v1/workflow-runs/{started['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    run = await wait_for(e2e, started["id"])
    assert run["status"] == "cancelled"
    for node_id in ("s1", "s2"):
        child = (await e2e.get(f"/v1/task-runs/{node(run, node_id)['task_run_id']}")).json()
        assert child["status"] == "cancelled", child
    again = await e2e.post(f"/v1/workflow-runs/{started['id']}/cancel")
    assert_problem(again, 409, "run-not-cancellable")


async def test_validation_on_save_names_node_and_field(e2e: httpx.AsyncClient, unique: str) -> None:
    await make_task(e2e, f"obj_{unique}", "return input", input_schema={"type": "object"}, output_schema={"type": "string"})
    await make_task(e2e, f"needs_{unique}", "return input", input_schema={"type": "object", "required": ["ip"]})
    cases = [
        ([{"id": "a", "task": f"missing_{unique}"}], [], "nodes[0].task"),
        ([{"id": "a", "kind": "identity"}, {"id": "b", "kind": "identity"}], [], "edges"),
        (
            [{"id": "a", "kind": "identity"}, {"id": "b", "kind": "identity"}, {"id": "c", "kind": "identity"}],
            [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}, {"from": "c", "to": "b"}],
            "nodes[1]",
        ),
        ([{"id": "a", "task": f"obj_{unique}"}, {"id": "b", "task": f"needs_{unique}"}], [{"from": "a", "to": "b"}], "nodes[1].task"),
        ([{"id": "a", "kind": "loop"}], [], "nodes[0].kind"),
        ([{"id": "a", "task": f"obj_{unique}", "version": 9}], [], "nodes[0].version"),
        ([{"id": "a", "kind": "identity"}], [{"from": "a", "to": "z"}], "edges[0].to"),
        ([{"id": "a[0]", "kind": "identity"}], [], "nodes[0].id"),
    ]
    for nodes, edges, field in cases:
        response = await e2e.post("/v1/workflows", json={"name": f"bad-{unique}", "nodes": nodes, "edges": edges})
        problem = assert_problem(response, 422, "invalid-workflow")
        assert problem["errors"][0]["field"] == field, problem
        assert problem["errors"][0]["message"]
    mismatch = await e2e.post(
        "/v1/workflows",
        json={"name": f"bad-{unique}", "nodes": [{"id": "a", "task": f"obj_{unique}"}], "edges": [], "input_schema": {"type": "string"}},
    )
    assert "cannot accept the workflow's input_schema" in assert_problem(mismatch, 422, "invalid-workflow")["detail"]


async def test_versions_disabled_tasks_and_idempotency(e2e: httpx.AsyncClient, unique: str) -> None:
    task = await make_task(e2e, f"echo_{unique}", "return input")
    workflow = await make_workflow(e2e, f"ver-{unique}", [{"id": "a", "task": f"echo_{unique}"}], [])
    changed = await e2e.patch(f"/v1/workflows/{workflow['id']}", json={"description": "now documented", "nodes": [{"id": "b", "task": f"echo_{unique}"}]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2
    versions = (await e2e.get(f"/v1/workflows/ver-{unique}/versions")).json()
    assert [v["version"] for v in versions] == [2, 1]
    assert (await e2e.get(f"/v1/workflows/ver-{unique}/versions/1")).json()["nodes"][0]["id"] == "a"
    first = await run_workflow(e2e, f"ver-{unique}", 5, **{"Idempotency-Key": f"k-{unique}"})
    again = await e2e.post(f"/v1/workflows/ver-{unique}/execute", json={"input": 5}, headers={"Idempotency-Key": f"k-{unique}"})
    assert again.status_code == 202 and again.json()["id"] == first["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    old = await e2e.post(f"/v1/workflows/ver-{unique}/execute", json={"input": 6, "version": 1})
    assert old.status_code == 202
    old_run = await wait_for(e2e, old.json()["id"])
    assert old_run["workflow_version"] == 1 and [n["node_id"] for n in old_run["nodes"]] == ["a"]
    await e2e.patch(f"/v1/tasks/{task['id']}", json={"status": "disabled"})
    refused = await e2e.post(f"/v1/workflows/ver-{unique}/execute", json={"input": 1})
    assert_problem(refused, 409, "task-not-runnable")
    archived = await e2e.delete(f"/v1/workflows/ver-{unique}")
    assert archived.json()["status"] == "archived"
    assert_problem(await e2e.post(f"/v1/workflows/ver-{unique}/execute", json={}), 409, "workflow-not-runnable")
    listed = (await e2e.get("/v1/workflow-runs", params={"workflow": f"ver-{unique}"})).json()["items"]
    assert {item["id"] for item in listed} == {first["id"], old_run["id"]}
