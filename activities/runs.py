"""The run's bookkeeping, as local activities: marking it running and recording its end."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from sqlalchemy.exc import DataError, StatementError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from persistence.db import get_sessionmaker
from persistence.repository import finish_run, mark_run_running
from persistence.ids import new_run_id
from persistence.repository.events import subscribers_of
from persistence.repository.runs import append_logs, create_run, get_run
from persistence.repository.tasks import get_task
from persistence.repository.workflows import mark_workflow_run_running
from settings import Settings
from storage.blobs import BlobStore, make_blob_store
from storage.values import ValueNotJSON, load_value, run_value_key, store_value
from taskrun.events import ALERT_KINDS, RUN_EVENT_OF_STATUS, matches, run_event
from taskrun.contract import (
    CY_ERROR_PREFIX,
    ChildTaskRequest,
    RunFinished,
    RunLogLines,
    RunRecorded,
    RunStarted,
    TaskRunRequest,
    run_error,
)
from validation import SchemaFault, failures_of

logger = logging.getLogger(__name__)

START_BESIDE_TOOL_SECONDS = 10.0
"""Well under a tool activity's heartbeat timeout (20 s)."""

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
    """The row of a workflow node's run, once (a retried attempt finds it), and the start of
    its workflow run when the request carries it."""
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
    if request.workflow_run_started_at is not None and request.workflow_run_id:
        # A sibling that holds the row is recording the same start: no need to wait for it.
        await mark_workflow_run_running(session, request.workflow_run_id, request.workflow_run_started_at, skip_locked=True)


def _refused(message: str) -> ApplicationError:
    return ApplicationError(message, type=CY_ERROR_PREFIX + "ToolInvocationError", non_retryable=True)


def _input_failures(schema: dict, value: object) -> str | None:
    try:
        failures = failures_of(schema, value)
    except SchemaFault as fault:
        return f"its input_schema cannot be evaluated at {fault.schema_path}: {fault.message}"
    if not failures:
        return None
    return f"at {failures[0].path}: {failures[0].message}"


async def _recorded_before(session: Any, finished: RunFinished) -> bool:
    """Whether a row already terminal holds this very end (an earlier attempt of this activity
    recorded it), rather than one written by something else (a cancel before the run started)."""
    row = await get_run(session, uuid.UUID(finished.run_id))
    return row is not None and row.status == finished.status and row.completed_at == finished.completed_at


async def _with_listeners(session: Any, finished: RunFinished) -> RunRecorded:
    """What finish_run answers: the stored status and error, and the run's end event with the
    rules (whose matches hold) and alerts listening to it, found in the run's own transaction."""
    recorded = RunRecorded(finished.status, finished.error)
    source = finished.source
    if source is None or finished.status not in RUN_EVENT_OF_STATUS:
        return recorded
    event = run_event(
        run_id=finished.run_id,
        status=finished.status,
        occurred_at=finished.completed_at,
        task_id=source.task_id,
        task_name=source.task_name,
        task_version=source.task_version,
        trigger=source.trigger,
        error=finished.error,
        depth=source.depth,
        workflow_run_id=source.workflow_run_id,
    )
    alert_kind = finished.status if finished.status in ALERT_KINDS else None
    found = await subscribers_of(session, event["type"], source.task_id, alert_kind, rule_run=source.trigger == "event")
    chosen = [{"kind": s.kind, "id": s.id} for s in found if s.kind == "alert" or matches(event, s.match)]
    if chosen:
        recorded.event, recorded.subscribers = event, chosen
    return recorded


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
            return await self._record_start(session, started)

    async def record_start_beside_tool(self, started: RunStarted) -> bool:
        """A tool activity records its run's start while the tool runs: a ``pending`` run only
        (a late attempt never moves a run that has paused since). A failure, or a database
        slower than ``START_BESIDE_TOOL_SECONDS``, is logged and answered False: the tool's
        result stands and the workflow records the start itself."""
        try:
            async with asyncio.timeout(START_BESIDE_TOOL_SECONDS):
                async with self.sessions() as session, session.begin():
                    await self._record_start(session, started, only_pending=True)
            return True
        except Exception as error:
            logger.warning("run %s: its start could not be recorded beside its tool call: %r", started.run_id, error)
            return False

    async def _record_start(self, session: Any, started: RunStarted, *, only_pending: bool = False) -> bool:
        if started.node_run is not None:
            await record_node_run(session, self.settings, self.blobs, started.node_run)
        return await mark_run_running(
            session,
            started.run_id,
            started_at=started.started_at,
            workflow_run_id=started.workflow_run_id,
            only_pending=only_pending,
        )

    @activity.defn(name="prepare_child_task")
    async def prepare_child_task(self, call: ChildTaskRequest) -> TaskRunRequest:
        """The row and the start request of a run a script asked for with ``app::tasks::run``:
        the task's current version, its input checked against the task's input_schema."""
        if not isinstance(call.task, str) or not call.task:
            raise _refused(f"app::tasks::run needs a task's cy_name or id, got {call.task!r}")
        async with self.sessions() as session, session.begin():
            task = await get_task(session, call.task)
            if task is None:
                raise _refused(f"No task with id or cy_name '{call.task}'")
            if task.status != "enabled":
                raise _refused(f"Task '{task.cy_name}' is {task.status} and cannot be run")
            if task.input_schema is not None:
                failures = await asyncio.to_thread(_input_failures, task.input_schema, call.input)
                if failures:
                    raise _refused(f"The input of task '{task.cy_name}' does not match its input_schema: {failures}")
            run_id = new_run_id()
            stored = await store_value(
                call.input, self.settings.INLINE_THRESHOLD_BYTES, self.blobs, run_value_key(run_id, "input")
            )
            await create_run(
                session,
                run_id=run_id,
                trigger="task",
                task_id=task.id,
                task_version=task.version,
                input_storage=stored.storage,
                input_inline=stored.inline,
                input_ref=stored.ref,
                created_by=f"run:{call.parent_run_id}",
            )
        request = TaskRunRequest.for_task(run_id=str(run_id), task=task, pinned=task, input=call.input, trigger="task")
        request.depth = call.depth
        request.event_depth = call.event_depth
        return request

    @activity.defn(name="run_output")
    async def run_output(self, run_id: str) -> Any:
        """The output of a completed run too large to travel in its workflow's result."""
        async with self.sessions() as session:
            run = await get_run(session, run_id)
            if run is None:
                raise ValueError(f"no task run {run_id}")
            return await load_value(run.output_storage, run.output_inline, run.output_ref, self.blobs)

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
            return await self._finish(finished)
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
        return await self._finish(finished)

    async def _finish(self, finished: RunFinished) -> RunRecorded:
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
        start = finished.start
        async with self.sessions() as session, session.begin():
            if start is not None and start.node_run is not None:
                await self._record_start(session, start)
            updated = await finish_run(
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
                # A start not recorded yet goes into the same statement (started_at is the run's own).
                workflow_run_id=start.workflow_run_id if start is not None else None,
            )
            if not updated and not await _recorded_before(session, finished):
                return RunRecorded(finished.status, finished.error)  # the row ended otherwise: no event
            return await _with_listeners(session, finished)
