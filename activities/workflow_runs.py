"""Bookkeeping of workflow runs (local activities): the run row, a row per node run, the end."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from temporalio import activity

from persistence.db import get_sessionmaker
from persistence.repository.runs import create_run, get_run
from persistence.repository.workflows import finish_workflow_run, mark_workflow_run_running
from settings import Settings
from storage.blobs import BlobStore
from storage.values import load_value, run_value_key, store_value
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
        """The node's task run row (once: a retried attempt finds it); answers the request its
        child workflow starts with."""
        request = node.run
        run_id = uuid.UUID(request.run_id)
        async with self.sessions() as session, session.begin():
            if await get_run(session, run_id) is None:
                stored = await store_value(
                    request.input, self.settings.INLINE_THRESHOLD_BYTES, self.blobs, run_value_key(run_id, "input")
                )
                await create_run(
                    session,
                    trigger="workflow_node",
                    task_id=uuid.UUID(request.task_id) if request.task_id else None,
                    task_version=request.task_version,
                    cy_script=request.script,
                    input_storage=stored.storage,
                    input_inline=stored.inline,
                    input_ref=stored.ref,
                    run_id=run_id,
                    parent_workflow_run_id=node.workflow_run_id,
                    workflow_node_instance_id=node.node_instance,
                )
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
