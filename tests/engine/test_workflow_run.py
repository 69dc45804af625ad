"""WorkflowRunWorkflow on its own: node inputs, parallel nodes, merge and collect, foreach,
on_error, and node runs as child TaskRunWorkflows with their rows."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from graphs.definition import parse_graph
from persistence.db import get_sessionmaker
from persistence.repository.tasks import create_task
from persistence.repository.workflows import create_workflow_run, get_workflow_run, node_runs
from taskrun.contract import WORKFLOW_RUN_WORKFLOW, TaskRunRequest, WorkflowRunRequest

pytestmark = pytest.mark.stack


class Graphs:
    def __init__(self, runner) -> None:
        self.runner = runner
        self.sessions = get_sessionmaker(runner.settings.DATABASE_URL)

    async def start(self, tasks: dict[str, str], nodes: list[dict], edges: list[dict], input: Any = None) -> str:
        suffix = uuid.uuid4().hex[:8]
        names = {name: f"{name}_{suffix}" for name in tasks}
        for node in nodes:
            if "task" in node:
                node["task"] = names[node["task"]]
        graph = parse_graph(nodes, edges)
        async with self.sessions() as session, session.begin():
            created = {}
            for name, script in tasks.items():
                created[names[name]] = await create_task(session, name=names[name], cy_name=names[name], script=script)
            run = await create_workflow_run(
                session, workflow=None, workflow_id=None, trigger="api", graph=graph.to_dict(), input_inline=input
            )
        templates = {
            node.id: TaskRunRequest.for_task(
                run_id="", task=created[node.task], pinned=created[node.task], input=None, trigger="workflow_node"
            )
            for node in graph.nodes
            if node.task
        }
        request = WorkflowRunRequest(str(run.id), graph.to_dict(), templates, input, "test graph", 1)
        await self.runner.client.start_workflow(
            WORKFLOW_RUN_WORKFLOW, request, id=run.temporal_workflow_id, task_queue=self.runner.settings.TASK_QUEUE
        )
        return str(run.id)

    async def wait(self, run_id: str, timeout: float = 60):
        async with self.sessions() as session:
            run = await get_workflow_run(session, run_id)
        handle = self.runner.client.get_workflow_handle(run.temporal_workflow_id)
        try:
            await asyncio.wait_for(handle.result(), timeout)
        except Exception:
            pass
        async with self.sessions() as session:
            run = await get_workflow_run(session, run_id)
            return run, await node_runs(session, run)


@pytest.fixture
def graphs(runner) -> Graphs:
    return Graphs(runner)


async def test_a_chain_passes_each_result_on(graphs):
    run_id = await graphs.start(
        {"double": "return input * 2", "inc": "return input + 1"},
        [{"id": "a", "task": "double"}, {"id": "b", "task": "inc"}],
        [{"from": "a", "to": "b"}],
        input=20,
    )
    run, children = await graphs.wait(run_id)
    assert run.status == "completed", run.error
    assert run.output_inline == 41
    assert [(c.workflow_node_instance_id, c.trigger, c.status, c.output_inline) for c in children] == [
        ("a", "workflow_node", "completed", 40),
        ("b", "workflow_node", "completed", 41),
    ]
    assert run.nodes["a"]["status"] == "completed"
    assert run.nodes["b"]["task_run_ids"] == [str(children[1].id)]


async def test_fan_out_then_merge_and_collect(graphs):
    run_id = await graphs.start(
        {
            "geo": 'return {"ip": input.ip, "geo": {"country": "NL"}}',
            "rep": 'return {"ip": input.ip, "geo": {"asn": 1}, "score": 7}',
            "verdict": "return input",
        },
        [
            {"id": "entry", "kind": "identity"},
            {"id": "geo", "task": "geo"},
            {"id": "rep", "task": "rep"},
            {"id": "merged", "kind": "merge"},
            {"id": "both", "kind": "collect"},
            {"id": "out", "task": "verdict"},
        ],
        [
            {"from": "entry", "to": "geo"},
            {"from": "entry", "to": "rep"},
            {"from": "geo", "to": "merged"},
            {"from": "rep", "to": "merged"},
            {"from": "geo", "to": "both"},
            {"from": "rep", "to": "both"},
            {"from": "merged", "to": "out"},
            {"from": "both", "to": "out"},
        ],
        input={"ip": "10.0.0.1"},
    )
    run, children = await graphs.wait(run_id)
    assert run.status == "completed", run.error
    merged, both = run.output_inline
    assert merged == {"ip": "10.0.0.1", "geo": {"country": "NL", "asn": 1}, "score": 7}
    assert [item["geo"] for item in both] == [{"country": "NL"}, {"asn": 1}]
    assert sorted(c.workflow_node_instance_id for c in children) == ["geo", "out", "rep"]


async def test_foreach_keeps_the_order_and_the_limit(graphs):
    run_id = await graphs.start(
        {"square": "sleep(0.2)\nreturn input * input"},
        [{"id": "each", "kind": "foreach", "task": "square", "items": "/numbers", "concurrency": 2}],
        [],
        input={"numbers": [1, 2, 3, 4, 5]},
    )
    run, children = await graphs.wait(run_id)
    assert run.status == "completed", run.error
    assert run.output_inline == [1, 4, 9, 16, 25]
    assert sorted(c.workflow_node_instance_id for c in children) == [f"each[{i}]" for i in range(5)]
    windows = sorted((c.started_at, c.completed_at) for c in children)
    at_once = max(sum(1 for s, e in windows if s <= start < e) for start, _ in windows)
    assert at_once <= 2


async def test_a_failed_node_fails_the_run_unless_it_continues(graphs):
    failing = await graphs.start(
        {"boom": 'raise "no"', "after": "return 1"},
        [{"id": "a", "task": "boom"}, {"id": "b", "task": "after"}],
        [{"from": "a", "to": "b"}],
    )
    run, children = await graphs.wait(failing)
    assert run.status == "failed"
    assert run.error["type"] == "NodeFailed" and run.error["node_id"] == "a"
    assert run.nodes["b"]["status"] == "skipped"
    assert [c.workflow_node_instance_id for c in children] == ["a"]

    continuing = await graphs.start(
        {"boom": 'raise "no"', "after": 'return input ?? "nothing"'},
        [{"id": "a", "task": "boom", "on_error": "continue"}, {"id": "b", "task": "after"}],
        [{"from": "a", "to": "b"}],
    )
    run, _ = await graphs.wait(continuing)
    assert run.status == "completed", run.error
    assert run.output_inline == "nothing"
    assert run.nodes["a"]["status"] == "failed" and run.nodes["a"]["continued"] is True
    assert run.nodes["a"]["error"]["type"]
