"""One AsyncEngine per (process, database URL), and sessions from it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

_engines: dict[str, AsyncEngine] = {}
_sessionmakers: dict[str, async_sessionmaker[AsyncSession]] = {}


def get_engine(database_url: str | None = None, **engine_kwargs) -> AsyncEngine:
    """The process-wide async engine for `database_url` (default: settings.DATABASE_URL)."""
    url = database_url or _default_url()
    engine = _engines.get(url)
    if engine is None:
        options = _pool_options()
        options.update(engine_kwargs)
        engine = create_async_engine(url, **options)
        _engines[url] = engine
    return engine


def get_sessionmaker(database_url: str | None = None) -> async_sessionmaker[AsyncSession]:
    url = database_url or _default_url()
    maker = _sessionmakers.get(url)
    if maker is None:
        maker = async_sessionmaker(get_engine(url), expire_on_commit=False, autoflush=False)
        _sessionmakers[url] = maker
    return maker


@asynccontextmanager
async def session_scope(database_url: str | None = None) -> AsyncIterator[AsyncSession]:
    """A session inside one transaction: committed on success, rolled back on error."""
    async with get_sessionmaker(database_url)() as session, session.begin():
        yield session


def create_sync_engine(database_url: str, **engine_kwargs) -> Engine:
    """A short-lived synchronous engine (migrations, maintenance scripts)."""
    return create_engine(database_url, **engine_kwargs)


async def dispose_engines() -> None:
    engines = list(_engines.values())
    _engines.clear()
    _sessionmakers.clear()
    for engine in engines:
        await engine.dispose()


def _default_url() -> str:
    from settings import get_settings

    return get_settings().DATABASE_URL


def _pool_options() -> dict:
    try:
        from settings import get_settings

        settings = get_settings()
        pool_size, max_overflow = settings.DATABASE_POOL_SIZE, settings.DATABASE_MAX_OVERFLOW
    except Exception:
        pool_size, max_overflow = 10, 20
    return {"pool_size": pool_size, "max_overflow": max_overflow, "pool_pre_ping": False, "pool_recycle": 1800}
