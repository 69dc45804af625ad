"""The run's bookkeeping, as local activities: marking it running and recording its end."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from sqlalchemy.exc import DataError, StatementError
from temporalio import activity

from persistence.db import get_sessionmaker
from persistence.repository import finish_run, mark_run_running
from persistence.repository.runs import append_logs, create_run, get_run
from settings import Settings
from storage.blobs import BlobStore, make_blob_store
from storage.values import ValueNotJSON, run_value_key, store_value
from taskrun.contract import RunFinished, RunLogLines, RunRecorded, RunStarted, TaskRunRequest, run_error
from validation import SchemaFault, failures_of

logger = logging.getLogger(__name__)

# What a run's own data can make the database refuse; retrying cannot help with these.
UNSTORABLE = (DataError, ValueNotJSON, UnicodeError, ValueError, TypeError)


MAX_REPORTED_VIOLATIONS = 20


def output_violation(schema: dict, output: object) -> dict | None:
    """The run error of an output that breaks its task's output_schema, or None."""
    try:
        failures = failures_of(schema, output)
    except SchemaFault as fault:
        return {
            **run_error(
                "OutputSchemaViolation",
                f"The output could not be checked: output_schema at {fault.schema_path}: {fault.message}",
            ),
            "path": "$",
        }
    if not failures:
        return None
    first = failures[0]
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    return {
        **run_error(
            "OutputSchemaViolation",
            f"The output does not match the task's output_schema: at {first.path}: {first.message}{more}",
        ),
        "path": first.path,
        "violations": [{"path": f.path, "message": f.message} for f in failures[:MAX_REPORTED_VIOLATIONS]],
    }


async def record_node_run(session: Any, settings: Settings, blobs: BlobStore, request: TaskRunRequest) -> None:
    """The row of a workflow node's run, once (a retried attempt finds it)."""
    run_id = uuid.UUID(request.run_id)
    if await get_run(session, run_id) is not None:
        return
    stored = await store_value(request.input, settings.INLINE_THRESHOLD_BYTES, blobs, run_value_key(run_id, "input"))
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
        parent_workflow_run_id=request.workflow_run_id,
        workflow_node_instance_id=request.node_instance,
    )


class RunActivities:
    def __init__(self, settings: Settings, blobs: BlobStore) -> None:
        self.settings = settings
        self.blobs = blobs
        self.sessions = get_sessionmaker(settings.DATABASE_URL)

    @classmethod
    async def create(cls, settings: Settings) -> "RunActivities":
        return cls(settings, make_blob_store(settings))

    async def close(self) -> None:
        pass

    @activity.defn(name="cy_checkpoint")
    async def checkpoint(self) -> None:
        """Does nothing: awaiting it lets a long computation end its workflow activation."""

    @activity.defn(name="mark_run_running")
    async def mark_run_running(self, started: RunStarted) -> bool:
        async with self.sessions() as session, session.begin():
            if started.node_run is not None:
                await record_node_run(session, self.settings, self.blobs, started.node_run)
            return await mark_run_running(
                session,
                started.run_id,
                started_at=started.started_at,
                workflow_run_id=started.workflow_run_id,
            )

    @activity.defn(name="append_run_logs")
    async def append_run_logs(self, batch: RunLogLines) -> int:
        """Store log lines of a run that is still going (its logs are readable live)."""
        async with self.sessions() as session, session.begin():
            return await append_logs(session, batch.run_id, batch.lines)

    @activity.defn(name="finish_run")
    async def finish_run(self, finished: RunFinished) -> RunRecorded | bool:
        """Record the run's end; answers the status and error stored (``bool`` in the type: what
        earlier versions answered, so that histories recorded then still replay). A completed run whose
        output breaks its output_schema is recorded failed (OutputSchemaViolation, the output
        kept for inspection). Data the database refuses (never a transient failure) is not
        retried forever: the run is recorded failed with why its result could not be kept."""
        if finished.status == "completed" and finished.has_output and finished.output_schema is not None:
            violation = await asyncio.to_thread(output_violation, finished.output_schema, finished.output)
            if violation is not None:
                finished.status, finished.error = "failed", violation
        try:
            await self._finish(finished)
            return RunRecorded(finished.status, finished.error)
        except StatementError as error:
            if not isinstance(error.orig, UNSTORABLE) and not isinstance(error, DataError):
                raise
            reason = error.orig or error
        except UNSTORABLE as error:
            reason = error
        logger.warning("run %s: its result could not be stored: %s", finished.run_id, reason)
        finished.status = "failed"
        finished.has_output = False
        finished.output = None
        finished.logs = [line.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd") for line in finished.logs]
        finished.error = run_error(
            "OutputNotStorable",
            f"The run's result could not be stored: {type(reason).__name__}: {str(reason)[:500]}",
        )
        await self._finish(finished)
        return RunRecorded(finished.status, finished.error)

    async def _finish(self, finished: RunFinished) -> bool:
        output_storage = output_inline = output_ref = None
        if finished.has_output:
            stored = await store_value(
                finished.output,
                self.settings.INLINE_THRESHOLD_BYTES,
                self.blobs,
                run_value_key(finished.run_id, "output"),
            )
            output_storage, output_inline, output_ref = stored.storage, stored.inline, stored.ref
        duration_ms = int((finished.completed_at - finished.started_at).total_seconds() * 1000)
        async with self.sessions() as session, session.begin():
            return await finish_run(
                session,
                finished.run_id,
                status=finished.status,
                output_storage=output_storage,
                output_inline=output_inline,
                output_ref=output_ref,
                error=finished.error,
                logs=finished.logs,
                started_at=finished.started_at,
                completed_at=finished.completed_at,
                duration_ms=duration_ms,
                llm_usage=finished.llm_usage,
            )
