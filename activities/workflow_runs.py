"""Bookkeeping of workflow runs (local activities): the run row, a row per node run, the end."""

from __future__ import annotations

import logging
from typing import Any

from temporalio import activity

from persistence.db import get_sessionmaker
from persistence.repository.runs import get_run
from persistence.repository.workflows import finish_workflow_run, mark_workflow_run_running
from settings import Settings
from storage.blobs import BlobStore
from storage.values import load_value, run_value_key, store_value

from .runs import record_node_run
from taskrun.contract import NodeRunRequest, TaskRunRequest, WorkflowRunFinished, WorkflowRunStarted

logger = logging.getLogger(__name__)


class WorkflowRunActivities:
    def __init__(self, settings: Settings, blobs: BlobStore) -> None:
        self.settings = settings
        self.blobs = blobs
        self.sessions = get_sessionmaker(settings.DATABASE_URL)

    @activity.defn(name="mark_workflow_run_running")
    async def mark_workflow_run_running(self, started: WorkflowRunStarted) -> bool:
        async with self.sessions() as session, session.begin():
            return await mark_workflow_run_running(session, started.workflow_run_id, started.started_at)

    @activity.defn(name="create_node_run")
    async def create_node_run(self, node: NodeRunRequest) -> TaskRunRequest:
        """The node's task run row, made by the workflow run before it started the node run
        (histories recorded before node runs recorded their own rows)."""
        request = node.run
        request.workflow_run_id, request.node_instance = node.workflow_run_id, node.node_instance
        async with self.sessions() as session, session.begin():
            await record_node_run(session, self.settings, self.blobs, request)
        return request

    @activity.defn(name="node_run_output")
    async def node_run_output(self, run_id: str) -> Any:
        """The output of a completed node run too large to travel in its workflow's result."""
        async with self.sessions() as session:
            run = await get_run(session, run_id)
            if run is None:
                raise ValueError(f"no task run {run_id}")
            return await load_value(run.output_storage, run.output_inline, run.output_ref, self.blobs)

    @activity.defn(name="finish_workflow_run")
    async def finish_workflow_run(self, finished: WorkflowRunFinished) -> bool:
        stored = await store_value(
            finished.output,
            self.settings.INLINE_THRESHOLD_BYTES,
            self.blobs,
            run_value_key(finished.workflow_run_id, "output"),
        )
        async with self.sessions() as session, session.begin():
            return await finish_workflow_run(
                session,
                finished.workflow_run_id,
                status=finished.status,
                output_storage=stored.storage if finished.status == "completed" else None,
                output_inline=stored.inline if finished.status == "completed" else None,
                output_ref=stored.ref if finished.status == "completed" else None,
                error=finished.error,
                nodes=finished.nodes,
                completed_at=finished.completed_at,
            )
