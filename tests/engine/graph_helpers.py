"""Start a workflow graph straight on Temporal (no API): tasks, a workflow run row, the workflow."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from graphs.definition import parse_graph
from persistence.db import get_sessionmaker
from persistence.repository.tasks import create_task
from persistence.repository.workflows import create_workflow_run, get_workflow_run, node_runs
from taskrun.contract import WORKFLOW_RUN_WORKFLOW, TaskRunRequest, WorkflowRunRequest


class Graphs:
    def __init__(self, client, settings) -> None:
        self.client = client
        self.settings = settings
        self.sessions = get_sessionmaker(settings.DATABASE_URL)

    async def start(self, tasks: dict[str, Any], nodes: list[dict], edges: list[dict], input: Any = None) -> str:
        """Create ``tasks`` (name: script, or (script, task fields); names get a unique suffix),
        then run the graph."""
        suffix = uuid.uuid4().hex[:8]
        names = {name: f"{name}_{suffix}" for name in tasks}
        nodes = [{**node, "task": names[node["task"]]} if "task" in node else dict(node) for node in nodes]
        graph = parse_graph(nodes, edges)
        async with self.sessions() as session, session.begin():
            created = {}
            for name, spec in tasks.items():
                script, fields = spec if isinstance(spec, tuple) else (spec, {})
                created[names[name]] = await create_task(
                    session, name=names[name], cy_name=names[name], script=script, **fields
                )
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
        await self.client.start_workflow(
            WORKFLOW_RUN_WORKFLOW, request, id=run.temporal_workflow_id, task_queue=self.settings.TASK_QUEUE
        )
        return str(run.id)

    async def temporal_id(self, run_id: str) -> str:
        async with self.sessions() as session:
            return (await get_workflow_run(session, run_id)).temporal_workflow_id

    async def wait(self, run_id: str, timeout: float = 60):
        handle = self.client.get_workflow_handle(await self.temporal_id(run_id))
        try:
            await asyncio.wait_for(handle.result(), timeout)
        except Exception:
            pass
        async with self.sessions() as session:
            run = await get_workflow_run(session, run_id)
            return run, await node_runs(session, run)
