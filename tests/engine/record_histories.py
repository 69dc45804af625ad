"""Record the workflow histories that ``test_replay.py`` replays.

Usage: ``python -m tests.engine.record_histories [--all] [--into DIR]`` (starts its own stack
and worker). Only histories not recorded yet are written, so the ones recorded by earlier
versions of the code stay (they prove those runs still replay); ``--all`` records every one
again. ``--into epoch-1`` records every scenario once more into ``histories/epoch-1/``: the
runs of the code that records one epoch marker instead of its patches (workflows/versions.py).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from pathlib import Path

from activities.runs import RunActivities
from devstack import DevStack
from integrations.registry import get_registry
from settings import Settings

from . import plugin
from .conftest import Runner
from .graph_helpers import Graphs

async def delivery_workflow_ids(client, run_id: str) -> list[str]:
    history = await client.get_workflow_handle(f"taskrun-{run_id}").fetch_history()
    return [
        event.start_child_workflow_execution_initiated_event_attributes.workflow_id
        for event in history.events
        if event.HasField("start_child_workflow_execution_initiated_event_attributes")
    ]


HISTORIES = Path(__file__).resolve().parents[1] / "fixtures" / "histories"
INTO = sys.argv[sys.argv.index("--into") + 1] if "--into" in sys.argv else None
if INTO:
    HISTORIES = HISTORIES / INTO

REPRESENTATIVE_RUNS = {
    "pure_computation": ('total = 0\nfor (i in range(10)) { total += i }\nreturn {"total": total, "s": "${total}"}', None),
    "tool_calls": ('a = app::test::echo(input)\nb = app::test::echo(value=[a, a])\nreturn b', "x"),
    "durable_timer_and_clock": ('a = now()\nsleep(1)\nreturn duration_between(a, now())', None),
    "logs_and_loop_tools": ('out = []\nfor (v in input) { log("v=${v}")\n out += [app::test::echo(v)] }\nreturn out', [1, 2, 3]),
    "script_error": ('x = input.missing.deeper\nreturn 1 / 0', {}),
    "tool_error_caught": ('try { app::test::reject(1) } catch (e) { return "${e}" }\nreturn 0', None),
    "local_tool_calls": ('a = app::test::flaky_local("${input}", 0)\nreturn app::test::flaky_local("${input}", 0) + a', "/tmp/cytasks-replay-flaky"),
    # Recorded once runs record their start with their end (or before their first wait).
    "start_recorded_with_end": ('total = 0\nfor (i in range(10)) { total += i }\nlog("t=${total}")\nreturn total', None),
    "start_recorded_before_first_wait": ('log("a")\nsleep(0)\nb = app::test::echo(input)\nreturn b', "x"),
    # Recorded once the first tool activity records the start beside its call.
    "start_recorded_beside_first_tool": ('log("a")\na = app::test::echo(input)\nsleep(0)\nreturn app::test::echo([a, a])', "x"),
}

GRAPH_RUNS = (
    "workflow_graph",
    "workflow_graph_node_runs_record_themselves",
    "workflow_graph_node_starts_recorded_with_ends",
    "workflow_graph_start_recorded_by_nodes",
)
"""The same graph recorded by successive versions of WorkflowRunWorkflow."""
if INTO:
    GRAPH_RUNS = GRAPH_RUNS[:1]
GRAPH = (
    {"geo": 'return {"geo": input.ip}', "rep": 'return {"rep": 7}', "verdict": "return input"},
    [
        {"id": "entry", "kind": "identity"},
        {"id": "geo", "task": "geo"},
        {"id": "rep", "task": "rep"},
        {"id": "merged", "kind": "merge"},
        {"id": "out", "task": "verdict", "on_error": "continue"},
    ],
    [
        {"from": "entry", "to": "geo"},
        {"from": "entry", "to": "rep"},
        {"from": "geo", "to": "merged"},
        {"from": "rep", "to": "merged"},
        {"from": "merged", "to": "out"},
    ],
    {"ip": "10.0.0.1"},
)


RULE_RUNS = ("rule_delivery", "rule_delivery_start_recorded_with_end", "rule_delivery_apart")
"""A failing run whose workflow delivers its end event, recorded by successive versions."""
if INTO:
    RULE_RUNS = RULE_RUNS[:1]

QUESTION_SCRIPT = 'a = app::human::ask("Approve?", responses=["yes", "no"])\nreturn "answer: ${a}"'


def wanted(name: str) -> bool:
    return "--all" in sys.argv or not (HISTORIES / f"{name}.json").exists()


async def save(client, workflow_id: str, name: str, status: str) -> None:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    (HISTORIES / f"{name}.json").write_text(history.to_json())
    print(f"{name}: {status}")


async def start_as_schedule_would(client, settings) -> str:
    """A fire of a Temporal Schedule: no run id, only the task and the input."""
    from persistence.db import get_sessionmaker
    from persistence.repository import create_task
    from workflows.task_run import TaskRunWorkflow
    from taskrun.contract import TaskRunRequest

    async with get_sessionmaker(settings.DATABASE_URL)() as session, session.begin():
        task = await create_task(session, name="Scheduled doubling", script="return input * 2")
    workflow_id = f"taskrun-sched-{task.id}-replay"
    await client.start_workflow(
        TaskRunWorkflow.run,
        TaskRunRequest(run_id="", script="", task_id=str(task.id), input=21, trigger="schedule"),
        id=workflow_id,
        task_queue=settings.TASK_QUEUE,
    )
    return workflow_id


async def start_workflow_as_schedule_would(client, settings) -> str:
    """A fire of a workflow's Temporal Schedule: no run id, only the workflow and the input."""
    from persistence.db import get_sessionmaker
    from persistence.repository import create_task
    from persistence.repository.workflows import create_workflow, set_workflow_schedule
    from taskrun.contract import WORKFLOW_RUN_WORKFLOW, WorkflowRunRequest

    suffix = uuid.uuid4().hex[:8]
    async with get_sessionmaker(settings.DATABASE_URL)() as session, session.begin():
        double = await create_task(session, name=f"double_{suffix}", cy_name=f"double_{suffix}", script="return input * 2")
        inc = await create_task(session, name=f"inc_{suffix}", cy_name=f"inc_{suffix}", script="return input + 1")
        workflow = await create_workflow(
            session,
            name=f"scheduled-{suffix}",
            nodes=[{"id": "double", "task": double.cy_name}, {"id": "inc", "task": inc.cy_name}],
            edges=[{"from": "double", "to": "inc"}],
        )
        await set_workflow_schedule(session, workflow.id, {"interval": "1h", "timezone": "UTC", "input": 20})
    workflow_id = f"workflowrun-sched-{workflow.id}-replay"
    await client.start_workflow(
        WORKFLOW_RUN_WORKFLOW,
        WorkflowRunRequest.for_schedule(workflow_id=str(workflow.id), input=20),
        id=workflow_id,
        task_queue=settings.TASK_QUEUE,
    )
    return workflow_id


async def start_with_a_rule(client, settings) -> str:
    """A failing run of a task a rule listens to: its workflow delivers the event (an activity)."""
    from persistence.db import get_sessionmaker
    from persistence.repository import create_run, create_task
    from persistence.repository.events import create_rule
    from taskrun.client import start_task_run
    from taskrun.contract import TaskRunRequest

    suffix = uuid.uuid4().hex[:8]
    async with get_sessionmaker(settings.DATABASE_URL)() as session, session.begin():
        source = await create_task(session, name=f"failing_{suffix}", cy_name=f"failing_{suffix}", script="x = 0\nreturn 1 / x")
        target = await create_task(session, name=f"on_failure_{suffix}", cy_name=f"on_failure_{suffix}", script="return input.type")
        await create_rule(
            session, name=f"rule-{suffix}", event_types=["run.failed"], source_task_id=source.id, match=[], target_task_id=target.id
        )
        row = await create_run(session, trigger="api", task_id=source.id, task_version=source.version)
        request = TaskRunRequest.for_task(run_id=str(row.id), task=source, pinned=source, input=None, trigger="api")
    await start_task_run(client, request, task_queue=settings.TASK_QUEUE)
    return request.run_id


QUESTION_EVENTS_SCRIPT = 'a = app::human::ask("Isolate?", responses=["yes", "no"], timeout_seconds=1, default="no")\nreturn a'


async def start_with_question_rules(client, settings) -> str:
    """A run whose question rules listen to: its workflow delivers question.created when it
    asks and question.expired when the question times out (each an activity)."""
    from persistence.db import get_sessionmaker
    from persistence.repository import create_run, create_task
    from persistence.repository.events import create_rule
    from taskrun.client import start_task_run
    from taskrun.contract import TaskRunRequest

    suffix = uuid.uuid4().hex[:8]
    async with get_sessionmaker(settings.DATABASE_URL)() as session, session.begin():
        source = await create_task(session, name=f"asking_{suffix}", cy_name=f"asking_{suffix}", script=QUESTION_EVENTS_SCRIPT)
        target = await create_task(session, name=f"on_question_{suffix}", cy_name=f"on_question_{suffix}", script="return input.type")
        await create_rule(
            session, name=f"q-rule-{suffix}", event_types=["question.created", "question.expired"], source_task_id=source.id,
            match=[], target_task_id=target.id,
        )
        row = await create_run(session, trigger="api", task_id=source.id, task_version=source.version)
        request = TaskRunRequest.for_task(run_id=str(row.id), task=source, pinned=source, input=None, trigger="api")
    await start_task_run(client, request, task_queue=settings.TASK_QUEUE)
    return request.run_id


class Receiver:
    """A local webhook that answers 204 to every POST (the alerts' target)."""

    def __enter__(self) -> str:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/alert"

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


async def start_saved(client, settings, script: str, alert: dict, max_concurrency: int | None = None, runs: int = 1) -> list[str]:
    """Runs of a new task that an alert watches (the alert's fields as given)."""
    from persistence.db import get_sessionmaker
    from persistence.repository import create_run, create_task
    from persistence.repository.events import create_alert
    from taskrun.client import start_task_run
    from taskrun.contract import TaskRunRequest

    suffix = uuid.uuid4().hex[:8]
    requests = []
    async with get_sessionmaker(settings.DATABASE_URL)() as session, session.begin():
        task = await create_task(session, name=f"watched_{suffix}", cy_name=f"watched_{suffix}", script=script)
        task.max_concurrency = max_concurrency
        await create_alert(session, name=f"alert-{suffix}", task_id=task.id, on=[], **alert)
        for _ in range(runs):
            row = await create_run(session, trigger="api", task_id=task.id, task_version=task.version)
            requests.append(TaskRunRequest.for_task(run_id=str(row.id), task=task, pinned=task, input=None, trigger="api"))
    for request in requests:
        await start_task_run(client, request, task_queue=settings.TASK_QUEUE)
        await asyncio.sleep(0.5)
    return [request.run_id for request in requests]


async def start_workflow_with_a_rule(client, settings) -> str:
    """A workflow run whose node fails, with a rule on the workflow run's failure."""
    from persistence.repository.events import create_rule
    from persistence.db import get_sessionmaker
    from persistence.repository import create_task

    suffix = uuid.uuid4().hex[:8]
    async with get_sessionmaker(settings.DATABASE_URL)() as session, session.begin():
        target = await create_task(session, name=f"after_{suffix}", cy_name=f"after_{suffix}", script="return input.type")
        await create_rule(
            session, name=f"wf-rule-{suffix}", event_types=["workflow_run.failed"], source_task_id=None,
            match=[], target_task_id=target.id,
        )
    graphs = Graphs(client, settings)
    graph_run = await graphs.start({"boom": "x = 0\nreturn 1 / x"}, [{"id": "boom", "task": "boom"}], [])
    run, _ = await graphs.wait(graph_run)
    return run


async def record() -> None:
    import worker

    with tempfile.TemporaryDirectory() as data_dir:
        stack = DevStack(Path(data_dir), headless=True, migrate=True)
        await stack.start()
        try:
            settings = Settings(
                DATA_DIR=Path(data_dir),
                DATABASE_URL=stack.database_url,
                TEMPORAL_ADDRESS=stack.temporal_address,
                TASK_QUEUE="record-histories",
            )
            plugin.register(get_registry())
            client = await worker.connect(settings)
            activities = await RunActivities.create(settings)
            async with worker.build_worker(client, settings, activities):
                runner = Runner(client, settings)
                HISTORIES.mkdir(parents=True, exist_ok=True)
                for name, (script, run_input) in REPRESENTATIVE_RUNS.items():
                    if not wanted(name):
                        continue
                    run_id = await runner.start(script, run_input)
                    row = await runner.wait(run_id)
                    await save(client, f"taskrun-{run_id}", name, row.status)
                for name in GRAPH_RUNS:
                    if wanted(name):
                        graphs = Graphs(client, settings)
                        graph_run = await graphs.start(*GRAPH)
                        run, _ = await graphs.wait(graph_run)
                        await save(client, run.temporal_workflow_id, name, run.status)
                if wanted("workflow_schedule_fire"):
                    workflow_id = await start_workflow_as_schedule_would(client, settings)
                    summary = await client.get_workflow_handle(workflow_id).result()
                    await save(client, workflow_id, "workflow_schedule_fire", summary["status"])
                for name in RULE_RUNS:
                    if wanted(name):
                        run_id = await start_with_a_rule(client, settings)
                        row = await runner.wait(run_id)
                        await save(client, f"taskrun-{run_id}", name, row.status)
                if wanted("event_delivery"):
                    run_id = await start_with_a_rule(client, settings)
                    await runner.wait(run_id)
                    [delivering] = await delivery_workflow_ids(client, run_id)
                    await client.get_workflow_handle(delivering).result()
                    await save(client, delivering, "event_delivery", "completed")
                if wanted("workflow_rule_delivery"):
                    run = await start_workflow_with_a_rule(client, settings)
                    await save(client, run.temporal_workflow_id, "workflow_rule_delivery", run.status)
                if wanted("question_events"):
                    run_id = await start_with_question_rules(client, settings)
                    row = await runner.wait(run_id)
                    await save(client, f"taskrun-{run_id}", "question_events", row.status)
                with Receiver() as url:
                    if wanted("pending_alert"):
                        first, second = await start_saved(
                            client, settings, "sleep(3)\nreturn 1", {"url": url, "pending_over_seconds": 1}, max_concurrency=1, runs=2
                        )
                        await runner.wait(first)
                        row = await runner.wait(second)
                        await save(client, f"taskrun-{second}", "pending_alert", row.status)
                    if wanted("question_alert"):
                        [run_id] = await start_saved(
                            client, settings, QUESTION_SCRIPT, {"url": url, "question_waiting_over_seconds": 1}
                        )
                        await asyncio.sleep(3)
                        handle = client.get_workflow_handle(f"taskrun-{run_id}")
                        await handle.signal("human_responded", {"answer": "yes", "answered_by": "operator"})
                        row = await runner.wait(run_id)
                        await save(client, handle.id, "question_alert", row.status)
                if not (wanted("paused_and_answered") or wanted("schedule_fire")):
                    return
                run_id = await runner.start(QUESTION_SCRIPT)
                handle = client.get_workflow_handle(f"taskrun-{run_id}")
                while (await runner.row(run_id)).status != "paused":
                    await asyncio.sleep(0.1)
                await handle.signal("human_responded", {"answer": "yes", "answered_by": "operator"})
                row = await runner.wait(run_id)
                await save(client, handle.id, "paused_and_answered", row.status)
                workflow_id = await start_as_schedule_would(client, settings)
                await client.get_workflow_handle(workflow_id).result()
                await save(client, workflow_id, "schedule_fire", "completed")
        finally:
            await stack.stop()


if __name__ == "__main__":
    asyncio.run(record())
