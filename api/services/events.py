"""Event rules and alerts: created, read, changed and deleted (each change audited), and the
deliveries recorded for each."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import Alert, EventRule
from persistence.repository import events as event_repo
from persistence.repository.pagination import InvalidCursor, Page
from persistence.repository.tasks import get_task
from persistence.repository.workflows import get_workflow

from taskrun.alerts import shown_url
from taskrun.events import TASK_RUN_EVENT_TYPES

from ..problems import ProblemError, invalid_cursor, not_found
from ..state import Principal
from .auditing import audit


def _field_problem(field: str, message: str, where: str = "body") -> ProblemError:
    return ProblemError(422, "validation-error", f"{field}: {message}", errors=[{"field": field, "in": where, "message": message}])


async def _task_id(session: AsyncSession, field: str, ident: str | None, where: str = "body") -> uuid.UUID | None:
    if ident is None:
        return None
    task = await get_task(session, ident)
    if task is None:
        raise _field_problem(field, f"no task with id or cy_name {ident!r}", where)
    return task.id


async def _set_target(session: AsyncSession, rule: EventRule, target: dict[str, Any]) -> None:
    """Point the rule at the task or the workflow ``target`` names (exactly one is given)."""
    if target.get("workflow_id") is not None:
        workflow = await get_workflow(session, target["workflow_id"])
        if workflow is None:
            raise _field_problem("target.workflow_id", f"no workflow with id or name {target['workflow_id']!r}")
        rule.target_task_id, rule.target_workflow_id = None, workflow.id
    else:
        rule.target_task_id, rule.target_workflow_id = await _task_id(session, "target.task_id", target["task_id"]), None


def _name_taken(kind: str, name: str) -> ProblemError:
    message = f"{kind} name {name!r} is already taken"
    return ProblemError(409, "conflict", message[0].upper() + message[1:], errors=[{"field": "name", "in": "body", "message": message}])


MAX_AUDITED_MATCH_CHARS = 2_000


def _rule_facts(rule: Any) -> dict[str, Any]:
    """What the audit log keeps of a rule: what it listens to and what it starts."""
    return {
        "event": list(rule.event_types),
        "task_id": str(rule.source_task_id) if rule.source_task_id else None,
        "match": rule.match if len(json.dumps(rule.match, default=str)) <= MAX_AUDITED_MATCH_CHARS else f"{len(rule.match)} conditions",
        "target": {"workflow_id": str(rule.target_workflow_id)}
        if rule.target_workflow_id
        else {"task_id": str(rule.target_task_id)},
        "enabled": rule.enabled,
    }


def _alert_facts(alert: Any) -> dict[str, Any]:
    """What the audit log keeps of an alert: where it posts (without the URL's path, which may be
    a credential) and on what; never its secret."""
    return {
        "on": list(alert.on),
        "task_id": str(alert.task_id) if alert.task_id else None,
        "url": shown_url(alert.url),
        "format": alert.format,
        "enabled": alert.enabled,
    }


async def _save(session: AsyncSession, kind: str, name: str, action: str, row: Any, details: dict[str, Any]) -> None:
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise _name_taken(kind, name) from None
    await audit(session, action, kind.replace(" ", "_"), row.id, details=details)
    await session.commit()
    await session.refresh(row)


def _page_or_problem(coroutine: Any) -> Any:
    async def run() -> Page:
        try:
            return await coroutine
        except InvalidCursor as error:
            raise invalid_cursor(error) from None

    return run()


# -- rules ----------------------------------------------------------------------------------


def rule_not_found(rule_id: Any) -> ProblemError:
    return not_found(f"No event rule with id '{rule_id}'")


async def load_rule(session: AsyncSession, rule_id: uuid.UUID) -> EventRule:
    rule = await event_repo.get_rule(session, rule_id)
    if rule is None:
        raise rule_not_found(rule_id)
    return rule


async def create_rule(session: AsyncSession, principal: Principal, fields: dict[str, Any]) -> EventRule:
    """``fields`` are the checked body: name, event (a list), task_id, match, target, enabled."""
    rule = EventRule(
        name=fields["name"],
        event_types=fields["event"],
        source_task_id=await _task_id(session, "task_id", fields.get("task_id")),
        match=fields.get("match") or [],
        enabled=fields.get("enabled", True),
        created_by=principal.name,
    )
    await _set_target(session, rule, fields["target"])
    _check_task_filter(rule)
    session.add(rule)
    await _save(session, "event rule", rule.name, "event_rule.create", rule, {"name": rule.name, **_rule_facts(rule)})
    return rule


async def update_rule(session: AsyncSession, rule_id: uuid.UUID, changes: dict[str, Any]) -> EventRule:
    rule = await load_rule(session, rule_id)
    if "name" in changes:
        rule.name = changes["name"]
    if "event" in changes:
        rule.event_types = changes["event"]
    if "task_id" in changes:
        rule.source_task_id = await _task_id(session, "task_id", changes["task_id"])
    if "match" in changes:
        rule.match = changes["match"] or []
    if "target" in changes:
        await _set_target(session, rule, changes["target"])
    if "enabled" in changes:
        rule.enabled = changes["enabled"]
    _check_task_filter(rule)
    rule.updated_at = datetime.now(UTC)
    await _save(session, "event rule", rule.name, "event_rule.update", rule, {"fields": sorted(changes), **_rule_facts(rule)})
    return rule


def _check_task_filter(rule: EventRule) -> None:
    """A task filter selects task runs: with a workflow run's event it could never match."""
    others = [name for name in rule.event_types if name not in TASK_RUN_EVENT_TYPES]
    if rule.source_task_id is not None and others:
        raise _field_problem(
            "task_id",
            f"a task filter applies to task run events only, not to {', '.join(others)}; "
            "leave task_id null and match /workflow_id or /workflow_name instead",
        )


async def delete_rule(session: AsyncSession, rule_id: uuid.UUID) -> None:
    rule = await load_rule(session, rule_id)
    await event_repo.delete_subscriber(session, rule)
    await audit(session, "event_rule.delete", "event_rule", rule_id, details={"name": rule.name})
    await session.commit()


async def list_rules(session: AsyncSession, *, limit: int, cursor: str | None, task_id: str | None) -> Page:
    source = await _task_id(session, "task_id", task_id, "query") if task_id else None
    return await _page_or_problem(event_repo.list_rules(session, limit=limit, cursor=cursor, source_task_id=source))


# -- alerts ---------------------------------------------------------------------------------


def alert_not_found(alert_id: Any) -> ProblemError:
    return not_found(f"No alert with id '{alert_id}'")


async def load_alert(session: AsyncSession, alert_id: uuid.UUID) -> Alert:
    alert = await event_repo.get_alert(session, alert_id)
    if alert is None:
        raise alert_not_found(alert_id)
    return alert


async def create_alert(session: AsyncSession, principal: Principal, fields: dict[str, Any]) -> Alert:
    alert = Alert(
        name=fields["name"],
        task_id=await _task_id(session, "task_id", fields.get("task_id")),
        on=fields["on"],
        pending_over_seconds=fields.get("pending_over_seconds"),
        question_waiting_over_seconds=fields.get("question_waiting_over_seconds"),
        schedule_late_over_seconds=fields.get("schedule_late_over_seconds"),
        url=fields["url"],
        secret=fields.get("secret"),
        format=fields.get("format", "json"),
        enabled=fields.get("enabled", True),
        created_by=principal.name,
    )
    await _check_pending(session, alert)
    session.add(alert)
    await _save(session, "alert", alert.name, "alert.create", alert, {"name": alert.name, **_alert_facts(alert)})
    return alert


async def update_alert(session: AsyncSession, alert_id: uuid.UUID, changes: dict[str, Any]) -> Alert:
    alert = await load_alert(session, alert_id)
    for field in ("name", "on", "url", "secret", "format", "enabled", "pending_over_seconds", "question_waiting_over_seconds", "schedule_late_over_seconds"):
        if field in changes:
            setattr(alert, field, changes[field])
    if "task_id" in changes:
        alert.task_id = await _task_id(session, "task_id", changes["task_id"])
    thresholds = (alert.pending_over_seconds, alert.question_waiting_over_seconds, alert.schedule_late_over_seconds)
    if not alert.on and all(value is None for value in thresholds):
        raise _field_problem(
            "on",
            "name what to alert on: `on` (failed, timed_out), `pending_over_seconds`, "
            "`question_waiting_over_seconds` or `schedule_late_over_seconds`",
        )
    await _check_pending(session, alert)
    alert.updated_at = datetime.now(UTC)
    await _save(session, "alert", alert.name, "alert.update", alert, {"fields": sorted(changes), **_alert_facts(alert)})
    return alert


async def _check_pending(session: AsyncSession, alert: Alert) -> None:
    """Only runs of a task with ``max_concurrency`` wait for a slot: a task alert on pending
    runs of a task without one could never fire."""
    if alert.pending_over_seconds is None or alert.task_id is None:
        return
    task = await get_task(session, alert.task_id)
    if task is not None and not task.max_concurrency:
        raise _field_problem(
            "pending_over_seconds",
            f"task '{task.cy_name}' has no max_concurrency, so its runs never wait for a slot; set one first",
        )


async def delete_alert(session: AsyncSession, alert_id: uuid.UUID) -> None:
    alert = await load_alert(session, alert_id)
    await event_repo.delete_subscriber(session, alert)
    await audit(session, "alert.delete", "alert", alert_id, details={"name": alert.name})
    await session.commit()


async def list_alerts(session: AsyncSession, *, limit: int, cursor: str | None, task_id: str | None) -> Page:
    task = await _task_id(session, "task_id", task_id, "query") if task_id else None
    return await _page_or_problem(event_repo.list_alerts(session, limit=limit, cursor=cursor, task_id=task))


# -- deliveries -----------------------------------------------------------------------------


async def rule_deliveries(session: AsyncSession, rule_id: uuid.UUID, *, limit: int, cursor: str | None) -> Page:
    await load_rule(session, rule_id)
    return await _page_or_problem(event_repo.list_deliveries(session, rule_id, limit=limit, cursor=cursor))


async def alert_deliveries(session: AsyncSession, alert_id: uuid.UUID, *, limit: int, cursor: str | None) -> Page:
    await load_alert(session, alert_id)
    return await _page_or_problem(event_repo.list_deliveries(session, alert_id, limit=limit, cursor=cursor))
