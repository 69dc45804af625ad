"""The schedule protocol shared by tasks and workflows: stored on the owner's row, run by a
Temporal Schedule.

Every change is written to the row first (committed, so a fire that follows at once finds it),
then to Temporal; when Temporal refuses or cannot be reached the row is put back and the error
answered. Changes to one owner's schedule are serialized by an advisory lock keyed by its id.
Whatever still drifts is repaired by the reconciliation run at API and worker start.

What differs between a task and a workflow (its row, its name, the Temporal Schedule it gets,
how an action's run is found) is a :class:`ScheduleOwner`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, Schedule, ScheduleActionResult, ScheduleActionStartWorkflow, ScheduleDescription

from schedules import ScheduleSpec, ScheduleSpecError, validate_spec
from schedules import service as schedule_service
from schedules.spec import MAX_BACKFILL_RECORDS, time_range_errors
from schedules.temporal import action_fingerprint, pause_state
from taskrun.search_attributes import search_attributes_registered

from ..problems import ProblemError, not_found
from ..state import AppState
from .auditing import audit
from .schema_checks import validate_input_off_loop

logger = logging.getLogger(__name__)

RECENT_ACTIONS = 10
MAX_BACKFILL_ACTIONS = 1000
"""The most fire times one backfill may start."""
TRIGGER_WAIT_SECONDS = 5.0


def _now() -> datetime:
    return datetime.now(UTC)


def temporal_unavailable(error: Exception) -> ProblemError:
    return ProblemError(
        503,
        "service-unavailable",
        f"Temporal did not answer ({type(error).__name__}: {error}); the schedule is unchanged",
        headers={"Retry-After": "5"},
    )


def invalid_schedule(errors: list[dict[str, Any]]) -> ProblemError:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ProblemError(422, "invalid-schedule", f"{first['message']}{more}", title="Invalid schedule", errors=errors)


def parse_spec(fields: dict[str, Any]) -> ScheduleSpec:
    """The schedule a request body asks for; 422 naming every fault."""
    try:
        return validate_spec(**fields)
    except ScheduleSpecError as error:
        raise invalid_schedule(error.errors) from error


def check_time_range(start: datetime, end: datetime, where: str) -> None:
    errors = time_range_errors(start, end, where)
    if errors:
        raise invalid_schedule(errors)


def check_backfill_range(start: datetime, end: datetime) -> None:
    """422 unless [start, end] is a range of past fire times."""
    errors = time_range_errors(start, end, "body")
    if end > _now() + timedelta(seconds=1):
        errors.append({"field": "end", "in": "body", "message": "end is in the future; a backfill covers past fire times"})
    if errors:
        raise invalid_schedule(errors)


class ScheduleOwner(ABC):
    """What a schedule protocol needs to know of the kind of row that owns a schedule."""

    label: str
    """``task`` or ``workflow``: in messages and pause reasons."""
    audit_target: str
    """The audit log's target type; actions are ``{audit_target}.set``, ``.pause``, ..."""

    @abstractmethod
    def schedule_id(self, owner_id: uuid.UUID) -> str: ...

    @abstractmethod
    def name(self, owner: Any) -> str: ...

    @abstractmethod
    async def locked(self, session: AsyncSession, owner_id: uuid.UUID) -> Any:
        """The owner's row again, locked for the change."""

    @abstractmethod
    async def set_row(self, session: AsyncSession, owner_id: uuid.UUID, record: dict[str, Any] | None) -> None: ...

    @abstractmethod
    async def input_schema(self, session: AsyncSession, owner: Any, version: int | None) -> Any:
        """The input schema of the version the schedule runs; 422 when there is no such version."""

    @abstractmethod
    def ensure_runnable(self, owner: Any) -> None: ...

    @abstractmethod
    def desired(self, owner: Any, spec: ScheduleSpec, task_queue: str, with_search_attributes: bool) -> Schedule:
        """The Temporal Schedule the owner's stored schedule makes."""

    @abstractmethod
    async def apply(self, client: Client, owner: Any, spec: ScheduleSpec, state: AppState) -> None: ...

    @abstractmethod
    async def runs_of(
        self, session: AsyncSession, owner_id: uuid.UUID, actions: list[ScheduleActionStartWorkflow], since: datetime
    ) -> dict[str, Any]:
        """The runs that schedule actions recorded, keyed by :meth:`action_key`."""

    @abstractmethod
    def action_key(self, action: ScheduleActionStartWorkflow) -> str: ...

    def audit_details(self, owner: Any) -> dict[str, Any]:
        return {self.label: self.name(owner)}

    def no_schedule(self, owner: Any) -> ProblemError:
        return not_found(f"{self.label.capitalize()} '{self.name(owner)}' has no schedule")

    def spec_of(self, owner: Any) -> ScheduleSpec:
        """The owner's stored schedule; 404 when it has none."""
        if owner.schedule is None:
            raise self.no_schedule(owner)
        return ScheduleSpec.from_record(owner.schedule)


@dataclass(frozen=True)
class ScheduleLive:
    """What Temporal says of a schedule."""

    description: ScheduleDescription
    in_sync: bool
    """Whether Temporal's schedule matches the stored one."""
    paused: bool
    """Whether Temporal has it paused."""
    recent_actions: list[ScheduleActionResult]
    """Its last actions, newest first."""
    runs: dict[str, Any]
    """The runs those actions recorded, by the owner's action key."""

    def run_of(self, kind: ScheduleOwner, action: ScheduleActionStartWorkflow) -> Any:
        return self.runs.get(kind.action_key(action))


@dataclass(frozen=True)
class ScheduleView:
    """A schedule as stored, and as Temporal has it (``live`` is None when it has none)."""

    owner: Any
    spec: ScheduleSpec
    schedule_id: str
    paused: bool
    """Whether the stored schedule should be paused (by a person, or because of its owner's status)."""
    pause_reason: str | None
    live: ScheduleLive | None


@dataclass
class TriggerOutcome:
    """A run started now by the schedule, and what of it could be seen within a few seconds."""

    owner_id: uuid.UUID
    triggered_at: datetime
    temporal_workflow_id: str | None = None
    temporal_run_id: str | None = None
    run_id: uuid.UUID | None = None


@asynccontextmanager
async def schedule_lock(state: AppState, owner_id: uuid.UUID) -> AsyncIterator[None]:
    """Serialize changes to one owner's schedule across API processes (a transaction-scoped
    lock keyed by the owner's id)."""
    key = int.from_bytes(owner_id.bytes[:8], "big", signed=True)
    async with state.sessionmaker() as lock_session, lock_session.begin():
        await lock_session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        yield


async def _apply(state: AppState, kind: ScheduleOwner, owner: Any, spec: ScheduleSpec | None) -> None:
    client = await state.temporal_client()
    if spec is None:
        await schedule_service.remove_by_id(client, kind.schedule_id(owner.id))
        return
    await kind.apply(client, owner, spec, state)


async def _write(
    state: AppState,
    session: AsyncSession,
    kind: ScheduleOwner,
    owner: Any,
    spec: ScheduleSpec | None,
    verb: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Store the new schedule and its audit entry (committed), then make Temporal match; put
    the row back when Temporal refuses or fails."""
    previous = owner.schedule
    if spec is not None:
        spec.updated_at = _now().isoformat()
        spec.created_at = spec.created_at or spec.updated_at
        spec.task_queue = spec.task_queue or state.settings.TASK_QUEUE
    record = spec.to_record() if spec is not None else None
    await kind.set_row(session, owner.id, record)
    await audit(
        session, f"{kind.audit_target}.{verb}", kind.audit_target, owner.id, details={**kind.audit_details(owner), **(details or {})}
    )
    await session.commit()
    try:
        await _apply(state, kind, owner, spec)
    except schedule_service.ScheduleRejected as error:
        await _restore(session, kind, owner.id, previous)
        raise invalid_schedule([{"field": "schedule", "in": "body", "message": f"Temporal rejected it: {error}"}])
    except Exception as error:
        await _restore(session, kind, owner.id, previous)
        raise temporal_unavailable(error) from error
    owner.schedule = record


async def _restore(session: AsyncSession, kind: ScheduleOwner, owner_id: uuid.UUID, previous: dict[str, Any] | None) -> None:
    try:
        await session.rollback()
        await kind.set_row(session, owner_id, previous)
        await session.commit()
    except Exception as error:  # reconciliation will align Temporal with whatever the row says
        logger.warning("could not restore the schedule row of %s: %s", owner_id, error)


async def set_schedule(
    state: AppState,
    session: AsyncSession,
    kind: ScheduleOwner,
    probe: Any,
    spec: ScheduleSpec,
    *,
    version: int | None,
    input: Any,
    requested: dict[str, Any],
) -> Any:
    """Create or replace the owner's schedule (its runs' input checked against the version they
    run); ``requested`` is the request as the audit log records it."""
    schema = await kind.input_schema(session, probe, version)
    await validate_input_off_loop(state.settings, schema, input)
    async with schedule_lock(state, probe.id):
        owner = await kind.locked(session, probe.id)
        if owner.schedule is not None:
            old = ScheduleSpec.from_record(owner.schedule)
            spec.created_at, spec.backfills, spec.task_queue = old.created_at, old.backfills, old.task_queue
        await _write(state, session, kind, owner, spec, "set", {"schedule": requested})
    return owner


async def remove_schedule(state: AppState, session: AsyncSession, kind: ScheduleOwner, probe: Any) -> None:
    async with schedule_lock(state, probe.id):
        owner = await kind.locked(session, probe.id)
        if owner.schedule is None:
            raise kind.no_schedule(owner)
        await _write(state, session, kind, owner, None, "delete")


async def set_paused(
    state: AppState, session: AsyncSession, kind: ScheduleOwner, probe: Any, paused: bool, note: str | None
) -> Any:
    async with schedule_lock(state, probe.id):
        owner = await kind.locked(session, probe.id)
        spec = kind.spec_of(owner)
        spec.paused = paused
        if note is not None or not paused:
            spec.note = note
        await _write(state, session, kind, owner, spec, "pause" if paused else "unpause", {"note": note})
    return owner


async def _live(
    state: AppState, session: AsyncSession, kind: ScheduleOwner, owner: Any, spec: ScheduleSpec, paused: bool
) -> ScheduleLive | None:
    try:
        client = await state.temporal_client()
        description = await schedule_service.describe_by_id(client, kind.schedule_id(owner.id))
    except Exception as error:
        raise temporal_unavailable(error) from error
    if description is None:
        return None
    desired = kind.desired(
        owner,
        spec,
        spec.task_queue or state.settings.TASK_QUEUE,
        await search_attributes_registered(client, state.settings.TEMPORAL_NAMESPACE),
    )
    in_sync = (
        action_fingerprint(description.schedule) == action_fingerprint(desired)
        and bool(description.schedule.state.paused) == paused
    )
    recent = sorted(description.info.recent_actions, key=lambda action: action.started_at, reverse=True)[:RECENT_ACTIONS]
    runs: dict[str, Any] = {}
    if recent:
        since = min(action.started_at for action in recent) - timedelta(hours=1)
        runs = await kind.runs_of(session, owner.id, [action.action for action in recent], since)
    return ScheduleLive(
        description=description,
        in_sync=in_sync,
        paused=bool(description.schedule.state.paused),
        recent_actions=recent,
        runs=runs,
    )


async def schedule_view(state: AppState, session: AsyncSession, kind: ScheduleOwner, owner: Any) -> ScheduleView:
    """The owner's schedule as stored and as Temporal has it; 404 without one, 503 when Temporal does not answer."""
    spec = kind.spec_of(owner)
    paused, reason, _note = pause_state(spec, owner.status, kind.label)
    live = await _live(state, session, kind, owner, spec, paused)
    return ScheduleView(
        owner=owner, spec=spec, schedule_id=kind.schedule_id(owner.id), paused=paused, pause_reason=reason, live=live
    )


async def trigger_now(
    state: AppState, session: AsyncSession, kind: ScheduleOwner, owner: Any, overlap: str | None
) -> TriggerOutcome:
    """Have the schedule start a run now, and wait a few seconds to name its workflow and run."""
    kind.spec_of(owner)
    kind.ensure_runnable(owner)
    triggered_at = _now()
    await audit(session, f"{kind.audit_target}.trigger", kind.audit_target, owner.id, details=kind.audit_details(owner))
    await session.commit()
    schedule_id = kind.schedule_id(owner.id)
    try:
        client = await state.temporal_client()
        await schedule_service.trigger_by_id(client, schedule_id, overlap)
    except Exception as error:
        raise temporal_unavailable(error) from error
    owner_id = owner.id
    result = TriggerOutcome(owner_id=owner_id, triggered_at=triggered_at)
    deadline = asyncio.get_running_loop().time() + TRIGGER_WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        action = await _triggered_action(client, schedule_id, triggered_at)
        if action is not None:
            result.temporal_workflow_id = action.workflow_id
            result.temporal_run_id = action.first_execution_run_id
            runs = await kind.runs_of(session, owner_id, [action], triggered_at - timedelta(hours=1))
            run_ids = [run.id for run in runs.values()]
            await session.rollback()
            if run_ids:
                result.run_id = run_ids[0]
                break
        await asyncio.sleep(0.2)
    return result


async def _triggered_action(client: Client, schedule_id: str, triggered_at: datetime) -> ScheduleActionStartWorkflow | None:
    """The newest action started by a trigger at ``triggered_at`` (not a regular fire)."""
    description = await schedule_service.describe_by_id(client, schedule_id)
    started = [
        action
        for action in (description.info.recent_actions if description else [])
        if action.started_at >= triggered_at - timedelta(seconds=1)
        and abs((action.scheduled_at - action.started_at).total_seconds()) < 2
    ]
    return max(started, key=lambda action: action.started_at).action if started else None


async def _matching_times(state: AppState, kind: ScheduleOwner, owner: Any, start: datetime, end: datetime) -> list[datetime]:
    try:
        client = await state.temporal_client()
        return await schedule_service.matching_times_by_id(
            client, state.settings.TEMPORAL_NAMESPACE, kind.schedule_id(owner.id), start, end
        )
    except Exception as error:
        raise temporal_unavailable(error) from error


async def fire_times(
    state: AppState, kind: ScheduleOwner, owner: Any, start: datetime, end: datetime
) -> tuple[ScheduleSpec, list[datetime]]:
    """The times in [start, end] the owner's schedule fires at, as Temporal computes them."""
    spec = kind.spec_of(owner)
    return spec, await _matching_times(state, kind, owner, start, end)


async def request_backfill(
    state: AppState, session: AsyncSession, kind: ScheduleOwner, probe: Any, start: datetime, end: datetime, overlap: str
) -> dict[str, Any]:
    """Run every fire time of [start, end] now; the stored record of the backfill request."""
    kind.spec_of(probe)
    times = await _matching_times(state, kind, probe, start, end)
    if len(times) > MAX_BACKFILL_ACTIONS:
        raise invalid_schedule(
            [
                {
                    "field": "start",
                    "in": "body",
                    "message": f"the range holds {len(times)} fire times; a backfill may start at most "
                    f"{MAX_BACKFILL_ACTIONS} (split the range)",
                }
            ]
        )
    record = {
        "id": uuid.uuid4().hex[:12],
        "start": start.isoformat(),
        "end": end.isoformat(),
        "overlap": overlap,
        "requested_at": _now().isoformat(),
        "expected_runs": len(times),
    }
    async with schedule_lock(state, probe.id):
        owner = await kind.locked(session, probe.id)
        spec = kind.spec_of(owner)
        spec.backfills = (spec.backfills + [record])[-MAX_BACKFILL_RECORDS:]
        spec.updated_at = _now().isoformat()
        await kind.set_row(session, owner.id, spec.to_record())
        await audit(
            session,
            f"{kind.audit_target}.backfill",
            kind.audit_target,
            owner.id,
            details={**kind.audit_details(owner), **record},
        )
        await session.commit()
    try:
        client = await state.temporal_client()
        await schedule_service.backfill_by_id(client, kind.schedule_id(probe.id), start, end, overlap)
    except Exception as error:
        raise temporal_unavailable(error) from error
    return record


async def sync_schedule(state: AppState, kind: ScheduleOwner, owner: Any | None) -> None:
    """After the owner's status or name changed: pause, resume or relabel its schedule.

    Failures are logged, not raised: the change stands and reconciliation repairs the schedule."""
    if owner is None or owner.schedule is None:
        return
    try:
        await _apply(state, kind, owner, ScheduleSpec.from_record(owner.schedule))
    except Exception as error:
        logger.warning("could not update the schedule of %s %s after a change: %s", kind.label, owner.id, error)

