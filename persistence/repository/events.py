"""Event rules, alerts and their deliveries; and the one query a run's end makes to find who
listens to its event."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, any_, delete, func, literal, or_, select, union_all, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.ids import new_uuid7
from persistence.models import Alert, EventDelivery, EventRule
from persistence.repository.pagination import Page, decode_cursor, encode_cursor


@dataclass
class Subscriber:
    kind: str
    """``rule`` or ``alert``."""
    id: str
    match: list[Any]


async def subscribers_of(
    session: AsyncSession,
    event_type: str,
    task_id: uuid.UUID | str | None,
    alert_kind: str | None,
    *,
    rule_run: bool = False,
) -> list[Subscriber]:
    """The enabled rules on ``event_type`` whose source is this task (or any task), and, when
    the event is one alerts ride on, the task's enabled alerts on it (the global ones when the
    task has none). One statement; both tables have partial indexes on their task column.

    Rules on any task do not see the events of runs a rule started (``rule_run``): only a rule
    that names the task does, so rules cannot multiply every run's events among themselves."""
    task = uuid.UUID(str(task_id)) if task_id else None
    if task is None:
        source = literal(False) if rule_run else EventRule.source_task_id.is_(None)
    elif rule_run:
        source = EventRule.source_task_id == task
    else:
        source = or_(EventRule.source_task_id.is_(None), EventRule.source_task_id == task)
    rules = select(literal("rule").label("kind"), EventRule.id, EventRule.match).where(
        EventRule.enabled,
        literal(event_type) == any_(EventRule.event_types),
        source,
    )
    statements = [rules]
    if alert_kind is not None:
        own = select(Alert.id).where(Alert.enabled, Alert.task_id == task).exists() if task else literal(False)
        alerts = select(literal("alert").label("kind"), Alert.id, literal([], type_=EventRule.match.type).label("match")).where(
            Alert.enabled,
            literal(alert_kind) == any_(Alert.on),
            or_(Alert.task_id == task, and_(Alert.task_id.is_(None), ~own)) if task else Alert.task_id.is_(None),
        )
        statements.append(alerts)
    statement = union_all(*statements) if len(statements) > 1 else statements[0]
    rows = (await session.execute(statement)).all()
    return [Subscriber(kind=row.kind, id=str(row.id), match=list(row.match or [])) for row in rows]


async def threshold_alerts_of(session: AsyncSession, task_id: uuid.UUID | str | None, threshold: Any) -> list[dict[str, Any]]:
    """The task's enabled alerts with this threshold column set (the global ones when the task
    has no alert of its own, or for an ad-hoc run): ``{"id", "seconds"}``."""
    if task_id:
        task = uuid.UUID(str(task_id))
        own = select(Alert.id).where(Alert.enabled, Alert.task_id == task).exists()
        applies = or_(Alert.task_id == task, and_(Alert.task_id.is_(None), ~own))
    else:
        applies = Alert.task_id.is_(None)
    statement = select(Alert.id, threshold).where(Alert.enabled, threshold.is_not(None), applies)
    return [{"id": str(row[0]), "seconds": float(row[1])} for row in (await session.execute(statement)).all()]


async def pending_alerts_of(session: AsyncSession, task_id: uuid.UUID | str) -> list[dict[str, Any]]:
    """Alerts on runs waiting too long for a concurrency slot."""
    return await threshold_alerts_of(session, task_id, Alert.pending_over_seconds)


async def question_alerts_of(session: AsyncSession, task_id: uuid.UUID | str | None) -> list[dict[str, Any]]:
    """Alerts on questions waiting too long for an answer."""
    return await threshold_alerts_of(session, task_id, Alert.question_waiting_over_seconds)


async def late_alerts_of(session: AsyncSession, task_id: uuid.UUID | str, late_seconds: float) -> list[dict[str, Any]]:
    """Alerts on schedule fires at least this late whose threshold the fire passed."""
    found = await threshold_alerts_of(session, task_id, Alert.schedule_late_over_seconds)
    return [alert for alert in found if alert["seconds"] <= late_seconds]


# -- rules and alerts -----------------------------------------------------------------------


async def create_rule(session: AsyncSession, **values: Any) -> EventRule:
    rule = EventRule(**values)
    session.add(rule)
    await session.flush()
    return rule


async def create_alert(session: AsyncSession, **values: Any) -> Alert:
    alert = Alert(**values)
    session.add(alert)
    await session.flush()
    return alert


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


async def get_rule(session: AsyncSession, rule_id: uuid.UUID | str) -> EventRule | None:
    key = _as_uuid(rule_id)
    return await session.get(EventRule, key) if key else None


async def get_alert(session: AsyncSession, alert_id: uuid.UUID | str) -> Alert | None:
    key = _as_uuid(alert_id)
    return await session.get(Alert, key) if key else None


async def _page(session: AsyncSession, model: Any, limit: int, cursor: str | None, *where: Any) -> Page:
    statement = select(model).where(*where).order_by(model.created_at.desc(), model.id.desc())
    if cursor:
        created_at, last_id = decode_cursor(cursor)
        statement = statement.where(
            or_(model.created_at < created_at, and_(model.created_at == created_at, model.id < last_id))
        )
    rows = list((await session.execute(statement.limit(limit + 1))).scalars())
    following = encode_cursor(rows[limit - 1].created_at, rows[limit - 1].id) if len(rows) > limit else None
    return Page(items=rows[:limit], next_cursor=following)


async def list_rules(session: AsyncSession, *, limit: int, cursor: str | None, source_task_id: uuid.UUID | None = None) -> Page:
    where = [EventRule.source_task_id == source_task_id] if source_task_id else []
    return await _page(session, EventRule, limit, cursor, *where)


async def list_alerts(session: AsyncSession, *, limit: int, cursor: str | None, task_id: uuid.UUID | None = None) -> Page:
    where = [Alert.task_id == task_id] if task_id else []
    return await _page(session, Alert, limit, cursor, *where)


async def delete_subscriber(session: AsyncSession, row: Any) -> None:
    """Delete a rule or an alert with its deliveries."""
    await session.execute(delete(EventDelivery).where(EventDelivery.subscriber_id == row.id))
    await session.delete(row)
    await session.flush()


# -- deliveries -----------------------------------------------------------------------------


async def claim_delivery(
    session: AsyncSession, *, event: dict[str, Any], subscriber: Subscriber
) -> EventDelivery:
    """The delivery row of this subscriber and event, made the first time and locked for this
    transaction (a concurrent attempt waits for it)."""
    await session.execute(
        insert(EventDelivery)
        .values(
            id=new_uuid7(),
            event_id=uuid.UUID(event["id"]),
            event_type=event["type"],
            source_run_id=uuid.UUID(event.get("run_id") or event["workflow_run_id"]),
            subscriber_kind=subscriber.kind,
            subscriber_id=uuid.UUID(subscriber.id),
        )
        .on_conflict_do_nothing(index_elements=["subscriber_id", "event_id"])
    )
    statement = (
        select(EventDelivery)
        .where(EventDelivery.subscriber_id == uuid.UUID(subscriber.id), EventDelivery.event_id == uuid.UUID(event["id"]))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one()


async def settle_delivery(
    session: AsyncSession,
    delivery_id: uuid.UUID,
    *,
    status: str,
    error: str | None = None,
    target_run_id: uuid.UUID | None = None,
    delivered_at: datetime | None = None,
) -> None:
    """Record one attempt's outcome."""
    values: dict[str, Any] = {
        "status": status,
        "error": error,
        "attempts": EventDelivery.attempts + 1,
        "updated_at": func.now(),
    }
    if target_run_id is not None:
        values["target_run_id"] = target_run_id
    if delivered_at is not None:
        values["delivered_at"] = delivered_at
    await session.execute(update(EventDelivery).where(EventDelivery.id == delivery_id).values(**values))


async def list_deliveries(session: AsyncSession, subscriber_id: uuid.UUID, *, limit: int, cursor: str | None) -> Page:
    return await _page(session, EventDelivery, limit, cursor, EventDelivery.subscriber_id == subscriber_id)
