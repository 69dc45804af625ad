"""Reading the audit log: who changed, ran, cancelled or answered what, newest first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import AuditEntry
from persistence.repository import audit as audit_repo
from persistence.repository.pagination import InvalidCursor, Page

from ..problems import ProblemError


async def list_entries(
    session: AsyncSession,
    *,
    actor: str | None,
    action: str | None,
    target_type: str | None,
    target_id: str | None,
    after: datetime | None,
    before: datetime | None,
    cursor: str | None,
    limit: int,
) -> Page[AuditEntry]:
    try:
        return await audit_repo.list_entries(
            session,
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            after=after,
            before=before,
            cursor=cursor,
            limit=limit,
        )
    except InvalidCursor as error:
        raise ProblemError(
            400, "invalid-cursor", str(error), errors=[{"field": "cursor", "in": "query", "message": str(error)}]
        ) from error
