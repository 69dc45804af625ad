"""Writing the audit log: the actor, source address and client are those of the request being
served (the client, when the request names one, is the details' ``client``)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from persistence.repository import audit as audit_repo

from ..state import current_address, current_client, current_principal


async def audit(
    session: AsyncSession,
    action: str,
    target_type: str,
    target_id: uuid.UUID | str | None = None,
    *,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
) -> None:
    """Add an entry to the session's transaction; commit it with the change it records
    (a refusal is committed on its own by the caller)."""
    principal = current_principal.get()
    client = current_client.get()
    if client is not None:
        details = {**(details or {}), "client": client}
    await audit_repo.record(
        session,
        action=action,
        target_type=target_type,
        target_id=target_id,
        actor=principal.name if principal else None,
        actor_key_id=principal.key_id if principal else None,
        source_address=current_address.get(),
        outcome=outcome,
        details=details,
    )
