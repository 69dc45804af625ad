"""WorkflowRunWorkflow on its own: node inputs, parallel nodes, merge and collect, foreach,
on_error, and node runs as child TaskRunWorkflows with their rows."""

from __future__ import annotations

import asyncio

import pytest

from persistence.repository.runs import get_logs
from persistence.repository.workflows import get_workflow_run, node_runs

from .graph_helpers import Graphs

pytestmark = pytest.mark.stack


@pytest.fixture
def graphs(runner) -> Graphs:
    return Graphs(runner.client, runner.settings)


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
        {"boom": "return 1 / 0", "after": "return 1"},
        [{"id": "a", "task": "boom"}, {"id": "b", "task": "after"}],
        [{"from": "a", "to": "b"}],
    )
    run, children = await graphs.wait(failing)
    assert run.status == "failed"
    assert run.error["type"] == "NodeFailed" and run.error["node_id"] == "a"
    assert "division" in run.error["message"].lower()
    assert run.nodes["b"]["status"] == "skipped"
    assert [c.workflow_node_instance_id for c in children] == ["a"]

    continuing = await graphs.start(
        {"boom": "return 1 / 0", "after": 'return input ?? "nothing"'},
        [{"id": "a", "task": "boom", "on_error": "continue"}, {"id": "b", "task": "after"}],
        [{"from": "a", "to": "b"}],
    )
    run, _ = await graphs.wait(continuing)
    assert run.status == "completed", run.error
    assert run.output_inline == "nothing"
    assert run.nodes["a"]["status"] == "failed" and run.nodes["a"]["continued"] is True
    assert run.nodes["a"]["error"]["type"]


async def test_foreach_over_a_task_with_a_concurrency_limit(graphs):
    run_id = await graphs.start(
        {"limited": ("sleep(0.2)\nreturn input + 100", {"max_concurrency": 1})},
        [{"id": "each", "kind": "foreach", "task": "limited", "concurrency": 3}],
        [],
        input=[1, 2, 3],
    )
    run, children = await graphs.wait(run_id)
    assert run.status == "completed", run.error
    assert run.output_inline == [101, 102, 103]
    windows = sorted((c.started_at, c.completed_at) for c in children)
    assert all(earlier[1] <= later[0] for earlier, later in zip(windows, windows[1:]))


async def test_large_node_values_go_to_the_blob_store(graphs):
    run_id = await graphs.start(
        {
            "big": 'chunk = "' + "x" * 100 + '"\nparts = []\nfor (i in range(3000)) { parts += [chunk] }\nreturn str::join(parts, "")',
            "measure": "return len(input)",
        },
        [{"id": "big", "task": "big"}, {"id": "measure", "task": "measure"}],
        [{"from": "big", "to": "measure"}],
    )
    run, children = await graphs.wait(run_id)
    assert run.status == "completed", run.error
    assert run.output_inline == 300000
    measure = next(c for c in children if c.workflow_node_instance_id == "measure")
    big = next(c for c in children if c.workflow_node_instance_id == "big")
    assert measure.input_storage != "inline" and measure.input_ref
    assert big.output_storage != "inline" and big.output_ref


async def test_a_foreach_over_too_many_items_fails_before_starting_any(graphs):
    run_id = await graphs.start({"echo": "return input"}, [{"id": "each", "kind": "foreach", "task": "echo"}], [], input=list(range(1001)))
    run, children = await graphs.wait(run_id)
    assert run.status == "failed"
    assert run.error["type"] == "ForeachTooManyItems" and "at most 1000" in run.error["message"]
    assert children == []


async def test_the_first_node_run_records_the_start_and_the_run_makes_no_transaction_before_it(graphs):
    run_id = await graphs.start(
        {"wait": 'sleep(1)\nreturn input'},
        [{"id": "entry", "kind": "identity"}, {"id": "w", "task": "wait"}],
        [{"from": "entry", "to": "w"}],
        input=3,
    )
    async def status() -> tuple[str, object]:
        async with graphs.sessions() as session:
            row = await get_workflow_run(session, run_id)
            return row.status, row.started_at

    for _ in range(100):  # the node run sleeps a second after recording its row
        state, started_at = await status()
        if state != "pending":
            break
        await asyncio.sleep(0.02)
    assert state == "running" and started_at is not None
    run, children = await graphs.wait(run_id)
    assert run.status == "completed", run.error
    assert run.started_at == started_at <= children[0].started_at
    history = await graphs.client.get_workflow_handle(await graphs.temporal_id(run_id)).fetch_history()
    local_activities = [
        e for e in history.events if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]
    assert len(local_activities) == 1  # finish_workflow_run only


async def test_a_run_without_task_nodes_records_its_start_with_its_end(graphs):
    run_id = await graphs.start({}, [{"id": "a", "kind": "identity"}, {"id": "b", "kind": "collect"}], [{"from": "a", "to": "b"}], input=1)
    run, children = await graphs.wait(run_id)
    assert run.status == "completed", run.error
    assert children == []
    assert run.started_at is not None and run.started_at <= run.completed_at
    history = await graphs.client.get_workflow_handle(await graphs.temporal_id(run_id)).fetch_history()
    local_activities = [
        e.marker_recorded_event_attributes for e in history.events if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]
    assert len(local_activities) == 1  # its end, which records its start too


async def test_a_node_run_whose_first_wait_is_a_tool_call_gets_its_row_from_that_call(graphs):
    run_id = await graphs.start(
        {"lookup": 'log("looking up ${input}")\nv = app::test::slow(1.5)\nlog("found")\nreturn v + " for ${input}"'},
        [{"id": "entry", "kind": "identity"}, {"id": "l", "task": "lookup"}],
        [{"from": "entry", "to": "l"}],
        input="x",
    )

    async def state() -> tuple[str, object, list]:
        async with graphs.sessions() as session:
            rows = await node_runs(session, await get_workflow_run(session, run_id))
        async with graphs.sessions() as session:  # read after: the node's row came with the run's start
            row = await get_workflow_run(session, run_id)
        return row.status, row.started_at, rows

    for _ in range(100):  # the tool takes 1.5 s once its activity has recorded the node's row
        status, started_at, rows = await state()
        if rows:
            break
        await asyncio.sleep(0.02)
    assert [(n.status, n.workflow_node_instance_id) for n in rows] == [("running", "l")]
    assert status == "running" and started_at is not None
    run, children = await graphs.wait(run_id)
    assert run.status == "completed", run.error
    assert run.output_inline == "slow done for x"
    assert children[0].started_at == rows[0].started_at
    async with graphs.sessions() as session:
        logs = [line.message for line in await get_logs(session, children[0].id)]
    assert logs == ["looking up x", "found"]  # the line before the row existed is kept
    child_id = f"taskrun-{children[0].id}"
    history = await graphs.client.get_workflow_handle(child_id).fetch_history()
    markers = [
        e for e in history.events if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]
    assert len(markers) == 1  # finish_run only: the row came with the tool's activity
