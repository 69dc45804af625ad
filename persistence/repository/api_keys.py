"""API keys: only a SHA-256 hash of each key is stored."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.ids import new_uuid7
from persistence.models import ApiKey

BOOTSTRAP_KEY_NAME = "bootstrap-admin"
ADMIN_ROLES = ("admin",)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_api_key() -> str:
    return "cyt_" + secrets.token_urlsafe(32)


async def ensure_api_key(
    session: AsyncSession, name: str, key: str, roles: Sequence[str] = ADMIN_ROLES
) -> ApiKey:
    """Create the key `name`, or point it at `key` and `roles` if it exists."""
    statement = (
        insert(ApiKey)
        .values(id=new_uuid7(), name=name, key_hash=hash_api_key(key), roles=list(roles))
        .on_conflict_do_update(
            index_elements=[ApiKey.name],
            set_={"key_hash": hash_api_key(key), "roles": list(roles)},
        )
        .returning(ApiKey)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one()


async def ensure_bootstrap_api_key(session: AsyncSession, key: str | None) -> ApiKey | None:
    """Make the configured bootstrap admin key (settings.API_KEY) valid; nothing when unset."""
    if not key:
        return None
    return await ensure_api_key(session, BOOTSTRAP_KEY_NAME, key, ADMIN_ROLES)


class KeyNameTaken(ValueError):
    pass


async def create_api_key(
    session: AsyncSession,
    name: str,
    roles: Sequence[str] = (),
    *,
    expires_at: datetime | None = None,
    created_by: str | None = None,
) -> tuple[ApiKey, str]:
    """A new random key; the secret is returned once and never stored."""
    existing = await session.execute(select(ApiKey.id).where(ApiKey.name == name))
    if existing.first() is not None:
        raise KeyNameTaken(f"An API key named '{name}' already exists")
    secret = generate_api_key()
    api_key = ApiKey(
        id=new_uuid7(),
        name=name,
        key_hash=hash_api_key(secret),
        roles=list(roles),
        expires_at=expires_at,
        created_by=created_by,
    )
    session.add(api_key)
    await session.flush()
    return api_key, secret


async def find_api_key(session: AsyncSession, key: str) -> ApiKey | None:
    """The key with this secret, if it exists and has not expired."""
    result = await session.execute(
        select(ApiKey).where(
            ApiKey.key_hash == hash_api_key(key),
            or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > func.now()),
        )
    )
    return result.scalar_one_or_none()


async def get_live_api_key(session: AsyncSession, key_id: uuid.UUID) -> ApiKey | None:
    """The key with this id, if it exists and has not expired."""
    result = await session.execute(
        select(ApiKey).where(ApiKey.id == key_id, or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > func.now()))
    )
    return result.scalar_one_or_none()


async def list_api_keys(session: AsyncSession) -> list[ApiKey]:
    return list((await session.execute(select(ApiKey).order_by(ApiKey.created_at, ApiKey.name))).scalars())


async def revoke_api_key(session: AsyncSession, key_id: uuid.UUID) -> ApiKey | None:
    """Delete the key; the deleted row (or None when there was none)."""
    api_key = await session.get(ApiKey, key_id)
    if api_key is None:
        return None
    await session.delete(api_key)
    await session.flush()
    return api_key


async def delete_api_key(session: AsyncSession, name: str) -> bool:
    api_key = (await session.execute(select(ApiKey).where(ApiKey.name == name))).scalar_one_or_none()
    if api_key is None:
        return False
    await session.delete(api_key)
    await session.flush()
    return True
