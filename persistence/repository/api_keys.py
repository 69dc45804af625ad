"""API keys: only a SHA-256 hash of each key is stored."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

from sqlalchemy import select
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


async def create_api_key(
    session: AsyncSession, name: str, roles: Sequence[str] = ()
) -> tuple[ApiKey, str]:
    """A new random key; the secret is returned once and never stored."""
    secret = generate_api_key()
    api_key = ApiKey(id=new_uuid7(), name=name, key_hash=hash_api_key(secret), roles=list(roles))
    session.add(api_key)
    await session.flush()
    return api_key, secret


async def find_api_key(session: AsyncSession, key: str) -> ApiKey | None:
    result = await session.execute(select(ApiKey).where(ApiKey.key_hash == hash_api_key(key)))
    return result.scalar_one_or_none()


async def delete_api_key(session: AsyncSession, name: str) -> bool:
    api_key = (await session.execute(select(ApiKey).where(ApiKey.name == name))).scalar_one_or_none()
    if api_key is None:
        return False
    await session.delete(api_key)
    await session.flush()
    return True
