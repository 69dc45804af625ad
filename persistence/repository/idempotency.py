"""Idempotency keys: a retried request with the same key gets the run the first one made."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.ids import created_at_from_run_id
from persistence.models import IdempotencyKey


@dataclass(frozen=True)
class IdempotencyClaim:
    claimed: bool
    """True when this call took the key: go on and create `run_id`."""
    run_id: uuid.UUID
    """The run bound to the key (the caller's on a claim, the earlier one otherwise)."""
    run_created_at: datetime
    request_matches: bool
    """False when the key was first used with a different request body."""


def request_hash(payload: Any) -> str:
    """A stable hash of a JSON-able request body."""
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(encoded).hexdigest()


async def claim_idempotency_key(
    session: AsyncSession,
    *,
    scope: str,
    key: str,
    request_hash: str,
    run_id: uuid.UUID,
) -> IdempotencyClaim:
    """Bind (scope, key) to `run_id` unless it is bound already. Call it in the transaction that
    creates the run, so the key and the run commit or roll back together; a concurrent claim
    waits for that transaction and then sees its run."""
    run_created_at = created_at_from_run_id(run_id)
    statement = (
        insert(IdempotencyKey)
        .values(
            scope=scope,
            key=key,
            run_id=run_id,
            run_created_at=run_created_at,
            request_hash=request_hash,
        )
        .on_conflict_do_nothing(index_elements=[IdempotencyKey.scope, IdempotencyKey.key])
        .returning(IdempotencyKey.run_id)
    )
    if (await session.execute(statement)).scalar_one_or_none() is not None:
        return IdempotencyClaim(True, run_id, run_created_at, True)
    existing = (
        await session.execute(
            select(IdempotencyKey.run_id, IdempotencyKey.run_created_at, IdempotencyKey.request_hash).where(
                IdempotencyKey.scope == scope, IdempotencyKey.key == key
            )
        )
    ).one()
    return IdempotencyClaim(False, existing.run_id, existing.run_created_at, existing.request_hash == request_hash)


