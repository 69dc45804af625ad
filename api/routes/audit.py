"""The audit log: who changed, ran, cancelled or answered what, when and from where."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from ..deps import SessionDep
from ..presenters import page
from ..problems import problem_responses
from ..route import CytasksRoute
from ..schemas import Page, UtcDatetime
from ..services import audit_log

router = APIRouter(tags=["audit"], route_class=CytasksRoute)


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: datetime
    actor: str | None = None
    actor_key_id: uuid.UUID | None = None
    action: str
    target_type: str
    target_id: str | None = None
    source_address: str | None = None
    outcome: str
    details: dict[str, Any] | None = None


@router.get(
    "/audit",
    response_model=Page[AuditEntryRead],
    summary="The audit log, newest first",
    responses=problem_responses(400, 403, 422),
)
async def list_audit(
    session: SessionDep,
    actor: Annotated[str | None, Query(max_length=200, description="API key name")] = None,
    action: Annotated[str | None, Query(max_length=100, description="e.g. `task.create`, `run.execute`, `question.answer`")] = None,
    target_type: Annotated[str | None, Query(max_length=100, description="`task`, `run`, `schedule`, `question`, `api_key`")] = None,
    target_id: Annotated[str | None, Query(max_length=200)] = None,
    after: Annotated[UtcDatetime | None, Query(description="Inclusive (ISO 8601; UTC when no offset)")] = None,
    before: Annotated[UtcDatetime | None, Query(description="Exclusive (ISO 8601; UTC when no offset)")] = None,
    cursor: Annotated[str | None, Query(max_length=500, description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Any:
    found = await audit_log.list_entries(
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
    return page(found.items, found.next_cursor)
