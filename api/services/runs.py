"""The API's boundary with the run engine: the tool registry, compile checks and Temporal.

Everything the API needs from the Cy interpreter or from a run's workflow (start, cancel,
wait for, signal) goes through this module, so the rest of the API stays independent of how
runs are executed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Container
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from cy import CyOptions
from cy import check_script as cy_check_script
from cy.tools import ToolRegistry
from persistence.run_notifications import Kind, RunEndListener
from settings import Settings
from taskrun.outcome import WorkflowOutcome
from taskrun.client import cancel_task_run, cancel_workflow, start_task_run, workflow_exists
from taskrun.client import start_workflow_run as start_workflow_run_in_temporal
from taskrun.client import workflow_run_nodes as nodes_in_temporal
from taskrun.client import send_answer as send_answer_signal
from taskrun.client import workflow_outcome as outcome_in_temporal
from taskrun.contract import TERMINAL_RUN_STATUSES, TaskRunRequest, WorkflowRunRequest, workflow_id_for
from taskrun.search_attributes import search_attributes_registered

logger = logging.getLogger(__name__)

TEMPORAL_CONNECT_TIMEOUT = 10.0


class WorkflowGone(Exception):
    """Temporal has no open workflow of that id (it ended, or never started)."""

    def __init__(self, cause: RPCError) -> None:
        super().__init__(str(cause))
        self.cause = cause


def load_registry() -> ToolRegistry:
    """The registry scripts are compiled against: natives, built-in tools and plugins."""
    from integrations.registry import get_registry

    return get_registry()


def check_script(source: str, registry: ToolRegistry) -> list[dict[str, Any]]:
    """Compile ``source``; the Cy errors as ``{type, message, line, column}`` (empty when it compiles)."""
    options = CyOptions(undefined_variables="error")
    return [error.to_dict() for error in cy_check_script(source, registry, options)]


async def connect_temporal(settings: Settings) -> Client:
    return await asyncio.wait_for(
        Client.connect(
            settings.TEMPORAL_ADDRESS,
            namespace=settings.TEMPORAL_NAMESPACE,
            data_converter=_data_converter(settings),
        ),
        timeout=TEMPORAL_CONNECT_TIMEOUT,
    )


def _data_converter(settings: Settings) -> Any:
    """The workers' converter: payloads above the threshold go to the blob store, not history."""
    from storage import data_converter

    return data_converter(settings)


async def temporal_reachable(client: Client | None) -> bool:
    if client is None:
        return False
    try:
        await asyncio.wait_for(client.service_client.check_health(), timeout=3.0)
    except Exception:
        return False
    return True


async def start_run(client: Client, settings: Settings, request: TaskRunRequest) -> str:
    """Start the run's workflow and return its id; an already started workflow counts as started."""
    try:
        await start_task_run(
            client,
            request,
            task_queue=settings.TASK_QUEUE,
            namespace=settings.TEMPORAL_NAMESPACE,
        )
    except WorkflowAlreadyStartedError:
        pass
    return workflow_id_for(request.run_id)


async def ensure_started(client: Client, settings: Settings, request: TaskRunRequest) -> str:
    """Start the run's workflow unless Temporal already has one (open or closed) for this run."""
    if await workflow_exists(client, request.run_id):
        return workflow_id_for(request.run_id)
    return await start_run(client, settings, request)


async def started_despite_error(client: Client | None, run_id: str) -> bool:
    """After a failed start call: whether the workflow was created anyway (e.g. a lost reply)."""
    if client is None:
        return False
    try:
        return await asyncio.wait_for(workflow_exists(client, run_id), timeout=5.0)
    except Exception:
        return False


async def search_attributes_ready(client: Client, settings: Settings) -> bool:
    return await search_attributes_registered(client, settings.TEMPORAL_NAMESPACE)


async def start_workflow_run(client: Client, settings: Settings, request: WorkflowRunRequest, workflow_id: str) -> None:
    """Start a workflow run's workflow; an already started one counts as started."""
    try:
        await start_workflow_run_in_temporal(client, request, workflow_id=workflow_id, task_queue=settings.TASK_QUEUE)
    except WorkflowAlreadyStartedError:
        pass


async def workflow_run_nodes(connect: Callable[[], Awaitable[Client]], workflow_id: str) -> dict[str, Any] | None:
    """The live node states of an open workflow run; None when Temporal cannot say (soon enough)."""
    try:
        client = await connect()
        return await asyncio.wait_for(nodes_in_temporal(client, workflow_id), timeout=2.0)
    except Exception:
        return None


async def cancel_workflow_run(client: Client, workflow_id: str) -> bool:
    """Ask a workflow run's workflow to cancel; False when Temporal has no such open workflow."""
    return await cancel_workflow(client, workflow_id)


async def cancel_run(client: Client, run_id: str, workflow_id: str | None = None) -> bool:
    """Ask the run's workflow to cancel; False when Temporal has no such (open) workflow."""
    try:
        await cancel_task_run(client, run_id, workflow_id=workflow_id)
    except RPCError as error:
        if error.status.name == "NOT_FOUND":
            return False
        raise
    return True


async def workflow_outcome(client: Client, workflow_id: str, *, cancel_requested: bool) -> WorkflowOutcome:
    """How the run's workflow stands in Temporal: open, closed (and how the run ended), or missing."""
    return await outcome_in_temporal(client, workflow_id, cancel_requested=cancel_requested)


T = TypeVar("T")

UNANSWERED_RETRY_SECONDS = 1.0
"""How long a long poll waits before it asks Temporal again after Temporal did not answer."""
NOTICE_GRACE_SECONDS = 0.5
"""While end notices arrive, how long a long poll waits on the notice alone before it also asks
Temporal for the workflow's end (a run ended without a notice is seen that much later)."""


def watching(listener: RunEndListener | None, kind: Kind, run_id: str):
    """Register for the run's end notice (before reading its row); None without a listener."""
    return listener.watch(kind, run_id) if listener is not None else nullcontext(None)


async def wait_for_end(
    listener: RunEndListener | None,
    ended: asyncio.Event | None,
    connect: Callable[[], Awaitable[Client]],
    workflow_id: str,
    seconds: float,
    session: AsyncSession,
    read: Callable[[], Awaitable[T]],
) -> T:
    """The row (``read``) once its status is terminal or ``seconds`` have passed. Woken by the
    run's end notice or its workflow closing, it reads the row again, and waits on while the run
    has not ended (a lost listening connection wakes every waiter too). The session's connection
    goes back to the pool during each wait."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        session.expunge_all()
        await session.rollback()
        await _wait_once(listener, ended, connect, workflow_id, deadline - loop.time())
        row = await read()
        if row.status in TERMINAL_RUN_STATUSES or deadline - loop.time() <= 0:
            return row
        if ended is not None:
            ended.clear()


async def _wait_once(
    listener: RunEndListener | None,
    ended: asyncio.Event | None,
    connect: Callable[[], Awaitable[Client]],
    workflow_id: str,
    seconds: float,
) -> None:
    if seconds <= 0:
        return
    loop = asyncio.get_running_loop()
    started = loop.time()
    if listener is None or ended is None or not listener.listening:
        if not await wait_for_workflow(connect, workflow_id, seconds):
            # Temporal did not answer: look again a little later, not in a tight loop.
            await asyncio.sleep(max(0.0, min(UNANSWERED_RETRY_SECONDS, seconds - (loop.time() - started))))
        return

    async def workflow_end_later() -> None:
        await asyncio.sleep(NOTICE_GRACE_SECONDS)
        if not await wait_for_workflow(connect, workflow_id, max(0.0, seconds - NOTICE_GRACE_SECONDS)):
            await asyncio.Event().wait()  # Temporal did not answer: only the notice or the time ends this wait

    waits = [asyncio.create_task(ended.wait()), asyncio.create_task(workflow_end_later())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
        await asyncio.gather(*waits, return_exceptions=True)


async def wait_for_workflow(connect: Callable[[], Awaitable[Client]], workflow_id: str, seconds: float) -> bool:
    """Block until the run's workflow closes (it records the run's end first) or time runs out.
    True when the workflow has closed (or Temporal has none by that id), False when time ran out
    or Temporal did not answer. ``connect`` answers the process's client."""
    try:
        client = await connect()
        handle = client.get_workflow_handle(workflow_id)
        await asyncio.wait_for(handle.result(follow_runs=False), seconds)
        return True
    except asyncio.TimeoutError:
        return False
    except WorkflowFailureError:  # failed, cancelled, terminated, timed out: the row says how it ended
        return True
    except Exception as error:
        logger.debug("waiting on %s ended with %s", workflow_id, error)
        return isinstance(error, RPCError) and error.status.name == "NOT_FOUND"


async def send_answer(client: Client, workflow_id: str, payload: dict[str, Any]) -> None:
    """Hand the run's workflow an answer; WorkflowGone when Temporal has no such open workflow
    (any other failure, Temporal unreachable included, is raised as it is)."""
    try:
        await send_answer_signal(client, workflow_id, payload)
    except RPCError as error:
        if error.status.name == "NOT_FOUND":
            raise WorkflowGone(error) from error
        raise


class HistoryUnavailable(Exception):
    """Temporal no longer has (or never had) the run's workflow history."""


LOCAL_ACTIVITY_MARKER = "core_local_activity"


def _failure(failure: Any) -> dict[str, Any]:
    info = failure.application_failure_info if failure.HasField("application_failure_info") else None
    return {"message": failure.message or "the tool failed", "type": (info.type if info is not None else None)}


async def tool_history_events(client: Client, workflow_id: str, tools: Container[str]) -> list[dict[str, Any]]:
    """The tool calls a run's workflow history records, in the decoded form ``tasktests.history``
    reads: activities whose type is in ``tools`` (scheduled, and how each ended) and local
    activity markers of such tools. Payloads are decoded by the client's data converter, so
    those kept in the blob store are read back. ``HistoryUnavailable`` when Temporal has no
    history for ``workflow_id``."""
    try:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
    except RPCError as error:
        if error.status.name == "NOT_FOUND":
            raise HistoryUnavailable(str(error)) from error
        raise
    return await decoded_tool_events(history.events, client.data_converter, tools)


async def decoded_tool_events(history_events: Any, converter: Any, tools: Container[str]) -> list[dict[str, Any]]:
    """``tool_history_events`` of history events already fetched (``WorkflowHistory.events``)."""
    import json

    from temporalio.api.enums.v1 import EventType

    from taskrun.contract import ToolInvocation, ToolResult

    scheduled: set[int] = set()
    events: list[dict[str, Any]] = []
    for event in history_events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attributes = event.activity_task_scheduled_event_attributes
            fqn = attributes.activity_type.name
            if fqn not in tools:
                continue
            scheduled.add(event.event_id)
            [invocation] = await converter.decode(attributes.input.payloads, [ToolInvocation])
            events.append(
                {
                    "event_id": event.event_id,
                    "kind": "activity_scheduled",
                    "activity_type": fqn,
                    "input": {"args": invocation.args, "kwargs": invocation.kwargs},
                }
            )
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attributes = event.activity_task_completed_event_attributes
            if attributes.scheduled_event_id not in scheduled:
                continue
            values = await converter.decode(attributes.result.payloads, [ToolResult])
            result = values[0] if values else ToolResult()
            events.append(
                {
                    "event_id": event.event_id,
                    "kind": "activity_completed",
                    "scheduled_event_id": attributes.scheduled_event_id,
                    "result": {"value": result.value},
                }
            )
        elif kind in (
            EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
            EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
            EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
        ):
            if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
                attributes = event.activity_task_failed_event_attributes
                failure = _failure(attributes.failure)
            elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
                attributes = event.activity_task_timed_out_event_attributes
                failure = {"message": "the tool did not answer in time", "type": "TimeoutError"}
            else:
                attributes = event.activity_task_canceled_event_attributes
                failure = {"message": "the tool call was cancelled", "type": "CancelledError"}
            if attributes.scheduled_event_id not in scheduled:
                continue
            events.append(
                {
                    "event_id": event.event_id,
                    "kind": "activity_failed",
                    "scheduled_event_id": attributes.scheduled_event_id,
                    "failure": failure,
                }
            )
        elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
            attributes = event.marker_recorded_event_attributes
            if attributes.marker_name != LOCAL_ACTIVITY_MARKER or "data" not in attributes.details:
                continue
            data = attributes.details["data"].payloads
            fqn = json.loads(data[0].data).get("activity_type") if data else None
            if fqn not in tools:
                continue
            entry: dict[str, Any] = {"event_id": event.event_id, "kind": "local_activity", "activity_type": fqn}
            if attributes.HasField("failure"):
                entry["failure"] = _failure(attributes.failure)
            else:
                payloads = attributes.details["result"].payloads if "result" in attributes.details else []
                values = await converter.decode(payloads, [ToolResult]) if payloads else []
                entry["result"] = {"value": values[0].value if values else None}
            events.append(entry)
    return events


class ToolCallsUnavailable(Exception):
    """The run's workflow history could not be read (Temporal unreachable, or the history gone)."""


def _moment(seconds_nanos: Any) -> datetime | None:
    if not isinstance(seconds_nanos, dict):
        return None
    seconds, nanos = seconds_nanos.get("seconds"), seconds_nanos.get("nanos") or 0
    if not isinstance(seconds, int) or not isinstance(nanos, int):
        return None
    try:
        return datetime.fromtimestamp(seconds + nanos / 1e9, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def tool_calls_in_history(history_events: Any, tools: Container[str]) -> list[dict[str, Any]]:
    """The tool calls of a workflow history, in history order (the order a script makes them):
    each with its tool (``name``), ``attempt``, ``started`` and ``ended`` (aware datetimes),
    ``duration_ms`` (None while it runs), ``outcome`` (completed, failed, timed_out, cancelled
    or running), ``local`` and a failure ``message``. Activities whose type is not in
    ``tools`` (the engine's own bookkeeping) are left out. A local activity is read from its
    marker (``core_local_activity``): its type, attempt and completion time; its start only
    when the marker's schedule time is not after its completion (the two come from different
    clocks), otherwise ``started`` and ``duration_ms`` are None."""
    import json

    from temporalio.api.enums.v1 import EventType

    calls: dict[int, dict[str, Any]] = {}
    ordered: list[dict[str, Any]] = []
    for event in history_events:
        kind = event.event_type
        at = event.event_time.ToDatetime().replace(tzinfo=UTC)
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            fqn = event.activity_task_scheduled_event_attributes.activity_type.name
            if fqn not in tools:
                continue
            call = {"event_id": event.event_id, "name": fqn, "attempt": 1, "started": at,
                    "ended": None, "duration_ms": None, "outcome": "running", "local": False, "message": None}
            calls[event.event_id] = call
            ordered.append(call)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attributes = event.activity_task_started_event_attributes
            call = calls.get(attributes.scheduled_event_id)
            if call is not None:
                call["started"], call["attempt"] = at, max(1, attributes.attempt)
        elif kind in _ACTIVITY_ENDS:
            outcome, field = _ACTIVITY_ENDS[kind]
            attributes = getattr(event, field)
            call = calls.get(attributes.scheduled_event_id)
            if call is None:
                continue
            call["outcome"], call["ended"] = outcome, at
            if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
                call["message"] = _failure(attributes.failure)["message"]
            elif outcome == "timed_out":
                call["message"] = "the tool did not answer in time"
        elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
            attributes = event.marker_recorded_event_attributes
            if attributes.marker_name != LOCAL_ACTIVITY_MARKER or "data" not in attributes.details:
                continue
            payloads = attributes.details["data"].payloads
            try:
                data = json.loads(payloads[0].data) if payloads else {}
            except ValueError:
                continue
            fqn = data.get("activity_type") if isinstance(data, dict) else None
            if not isinstance(fqn, str) or fqn not in tools:
                continue
            ended = _moment(data.get("complete_time")) or at
            scheduled = _moment(data.get("original_schedule_time"))
            failed = attributes.HasField("failure")
            attempt = data.get("attempt")
            call = {"event_id": event.event_id, "name": fqn, "attempt": attempt if isinstance(attempt, int) and attempt > 0 else 1,
                    "started": scheduled if scheduled is not None and scheduled <= ended else None, "ended": ended,
                    "duration_ms": None, "outcome": "failed" if failed else "completed", "local": True,
                    "message": _failure(attributes.failure)["message"] if failed else None}
            ordered.append(call)
    for call in ordered:
        if call["ended"] is not None and call["started"] is not None:
            call["duration_ms"] = max(0, round((call["ended"] - call["started"]).total_seconds() * 1000))
    return ordered


def _activity_ends() -> dict[int, tuple[str, str]]:
    from temporalio.api.enums.v1 import EventType

    return {
        EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: ("completed", "activity_task_completed_event_attributes"),
        EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: ("failed", "activity_task_failed_event_attributes"),
        EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: ("timed_out", "activity_task_timed_out_event_attributes"),
        EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: ("cancelled", "activity_task_canceled_event_attributes"),
    }


_ACTIVITY_ENDS = _activity_ends()

TOOL_CALLS_TIMEOUT = 5.0


async def tool_calls(connect: Callable[[], Awaitable[Client]], workflow_id: str, tools: Container[str]) -> list[dict[str, Any]]:
    """``tool_calls_in_history`` of the run's workflow, fetched from Temporal (no payload is
    decoded); ToolCallsUnavailable, saying why, when Temporal does not answer in time or no
    longer has the history."""
    try:
        client = await asyncio.wait_for(connect(), TOOL_CALLS_TIMEOUT)
        history = await asyncio.wait_for(client.get_workflow_handle(workflow_id).fetch_history(), TOOL_CALLS_TIMEOUT)
    except RPCError as error:
        if error.status.name == "NOT_FOUND":
            raise ToolCallsUnavailable("Temporal no longer has this run's workflow history") from error
        raise ToolCallsUnavailable(f"Temporal did not answer ({error.status.name})") from error
    except Exception as error:
        raise ToolCallsUnavailable(f"Temporal did not answer ({type(error).__name__})") from error
    return tool_calls_in_history(history.events, tools)
