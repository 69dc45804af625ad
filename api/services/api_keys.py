"""API keys: authenticate a request's key, create (the secret is returned once), list, revoke."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import ApiKey
from persistence.repository import api_keys as key_repo

from ..problems import ProblemError, not_found
from ..state import AppState, Principal
from .auditing import audit


async def ensure_bootstrap_key(state: AppState) -> None:
    """Store the key the settings name (`CYTASKS_API_KEY`) as an admin key, once."""
    async with state.sessionmaker() as session, session.begin():
        await key_repo.ensure_bootstrap_api_key(session, state.settings.API_KEY)


async def find_key(session: AsyncSession, secret: str) -> ApiKey | None:
    """The live key with this secret (None when no key has it, or the key has expired)."""
    return await key_repo.find_api_key(session, secret)


async def find_key_by_id(session: AsyncSession, key_id: str) -> ApiKey | None:
    """The live key with this id (None when there is none, or it has expired or been revoked)."""
    try:
        return await key_repo.get_live_api_key(session, uuid.UUID(key_id))
    except ValueError:
        return None


async def create_key(
    session: AsyncSession, *, name: str, roles: list[str], expires_at: datetime | None, principal: Principal
) -> tuple[ApiKey, str]:
    """The new key and its secret (stored only as a hash)."""
    try:
        api_key, secret = await key_repo.create_api_key(
            session, name, roles, expires_at=expires_at, created_by=principal.name
        )
    except key_repo.KeyNameTaken as error:
        raise ProblemError(409, "conflict", str(error), errors=[{"field": "name", "in": "body", "message": str(error)}])
    expires = expires_at.isoformat() if expires_at else None
    await audit(
        session, "key.create", "api_key", api_key.id,
        details={"name": api_key.name, "roles": list(api_key.roles), "expires_at": expires},
    )
    await session.commit()
    return api_key, secret


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    return await key_repo.list_api_keys(session)


async def revoke_key(state: AppState, session: AsyncSession, key_id: uuid.UUID, principal: Principal) -> None:
    """Revoke the key at once, on this process (and within `AUTH_CACHE_SECONDS` on every other)."""
    if str(key_id) == principal.key_id:
        raise ProblemError(409, "conflict", "An API key cannot revoke itself; use another admin key")
    revoked = await key_repo.revoke_api_key(session, key_id)
    if revoked is None:
        raise not_found(f"No API key with id '{key_id}'")
    await audit(session, "key.revoke", "api_key", key_id, details={"name": revoked.name})
    await session.commit()
    state.auth_cache.clear()
