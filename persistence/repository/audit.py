"""The audit log: every change, execution, cancel and answer, with its actor and source."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import AuditEntry
from persistence.repository.pagination import Page, clamp_limit, decode_cursor, encode_cursor


async def record(
    session: AsyncSession,
    *,
    action: str,
    target_type: str,
    target_id: Any = None,
    actor: str | None = None,
    actor_key_id: uuid.UUID | str | None = None,
    source_address: str | None = None,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an entry to the caller's transaction (it is committed with the change it records)."""
    entry = AuditEntry(
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        actor=actor,
        actor_key_id=uuid.UUID(str(actor_key_id)) if actor_key_id else None,
        source_address=source_address,
        outcome=outcome,
        details=details,
    )
    session.add(entry)
    await session.flush()
    return entry


async def list_entries(
    session: AsyncSession,
    *,
    actor: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    after: datetime | None = None,
    before: datetime | None = None,
    cursor: str | None = None,
    limit: int | None = 50,
) -> Page[AuditEntry]:
    """Newest first, keyset-paginated on (at, id); ``after`` inclusive, ``before`` exclusive."""
    limit = clamp_limit(limit)
    statement = select(AuditEntry)
    if actor is not None:
        statement = statement.where(AuditEntry.actor == actor)
    if action is not None:
        statement = statement.where(AuditEntry.action == action)
    if target_type is not None:
        statement = statement.where(AuditEntry.target_type == target_type)
    if target_id is not None:
        statement = statement.where(AuditEntry.target_id == target_id)
    if after is not None:
        statement = statement.where(AuditEntry.at >= after)
    if before is not None:
        statement = statement.where(AuditEntry.at < before)
    if cursor:
        at, entry_id = decode_cursor(cursor)
        statement = statement.where(or_(AuditEntry.at < at, and_(AuditEntry.at == at, AuditEntry.id < entry_id)))
    statement = statement.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit + 1)
    rows = list((await session.execute(statement)).scalars())
    if len(rows) > limit:
        rows = rows[:limit]
        return Page(items=rows, next_cursor=encode_cursor(rows[-1].at, rows[-1].id))
    return Page(items=rows)
