"""One AsyncEngine per (process, database URL, driver), and sessions from it.

The async engine speaks asyncpg by default (CYTASKS_DATABASE_DRIVER); synchronous work
(Alembic migrations, scripts) uses psycopg 3. A URL may be spelled for either driver
(`postgresql+psycopg://`, `postgresql+asyncpg://`, `postgresql://`): `database_url_for`
rewrites it for the driver at hand, unix-socket `?host=/dir` included."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from sqlalchemy import URL, Engine, create_engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

Driver = Literal["asyncpg", "psycopg"]
DRIVERS: tuple[Driver, ...] = ("asyncpg", "psycopg")

# The same connection option under each driver's name (libpq's for psycopg).
_OPTION_NAMES = {"asyncpg": {"sslmode": "ssl", "connect_timeout": "timeout"}}
_OPTION_NAMES["psycopg"] = {value: key for key, value in _OPTION_NAMES["asyncpg"].items()}

_engines: dict[tuple[str, str], AsyncEngine] = {}
_sessionmakers: dict[tuple[str, str], async_sessionmaker[AsyncSession]] = {}


def database_url_for(database_url: str | URL, driver: Driver) -> URL:
    """`database_url` rewritten for `driver`, whatever driver it was spelled for."""
    if driver not in DRIVERS:
        raise ValueError(f"unknown database driver {driver!r}; expected one of {DRIVERS}")
    url = make_url(database_url)
    if url.get_backend_name() not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {url.render_as_string(hide_password=True)}")
    renames = _OPTION_NAMES[driver]
    query = {renames.get(name, name): value for name, value in url.query.items()}
    return url.set(drivername=f"postgresql+{driver}", query=query)


def _split_connect_options(url: URL, driver: Driver) -> tuple[URL, dict[str, Any]]:
    """asyncpg wants typed connect() arguments; the URL's query only carries strings."""
    if driver != "asyncpg" or "timeout" not in url.query:
        return url, {}
    timeout = float(url.query["timeout"])  # type: ignore[arg-type]
    return url.difference_update_query(["timeout"]), {"timeout": timeout}


def _server_settings(statement_timeout_ms: int) -> dict[str, str]:
    settings = {"application_name": "cytasks"}
    if statement_timeout_ms > 0:
        settings["statement_timeout"] = str(statement_timeout_ms)
    return settings


def async_engine_options(database_url: str | URL, driver: Driver | None = None) -> tuple[URL, dict[str, Any]]:
    """The URL and create_async_engine() keyword arguments for the async engine: pool sizes
    from the settings, the driver's connect arguments and server-side settings (statement_timeout)."""
    config = _config()
    driver = driver or config["driver"]
    url, connect_args = _split_connect_options(database_url_for(database_url, driver), driver)
    server_settings = _server_settings(config["statement_timeout_ms"])
    if driver == "asyncpg":
        connect_args["server_settings"] = server_settings
    else:
        connect_args["options"] = " ".join(f"-c {name}={value}" for name, value in server_settings.items())
    options: dict[str, Any] = {
        "pool_size": config["pool_size"],
        "max_overflow": config["max_overflow"],
        "pool_pre_ping": False,
        "pool_recycle": 1800,
        "connect_args": connect_args,
    }
    return url, options


def new_async_engine(database_url: str | URL, driver: Driver | None = None, **engine_kwargs) -> AsyncEngine:
    """A new async engine configured like the process-wide ones (for owners of their own engine)."""
    url, options = async_engine_options(database_url, driver)
    options.update(engine_kwargs)
    return create_async_engine(url, **options)


def get_engine(database_url: str | None = None, driver: Driver | None = None, **engine_kwargs) -> AsyncEngine:
    """The process-wide async engine for `database_url` (default: settings.DATABASE_URL)."""
    key = (database_url or _default_url(), driver or _config()["driver"])
    engine = _engines.get(key)
    if engine is None:
        engine = new_async_engine(key[0], key[1], **engine_kwargs)  # type: ignore[arg-type]
        _engines[key] = engine
    return engine


def get_sessionmaker(database_url: str | None = None, driver: Driver | None = None) -> async_sessionmaker[AsyncSession]:
    key = (database_url or _default_url(), driver or _config()["driver"])
    maker = _sessionmakers.get(key)
    if maker is None:
        maker = async_sessionmaker(get_engine(*key), expire_on_commit=False, autoflush=False)  # type: ignore[arg-type]
        _sessionmakers[key] = maker
    return maker


@asynccontextmanager
async def session_scope(database_url: str | None = None) -> AsyncIterator[AsyncSession]:
    """A session inside one transaction: committed on success, rolled back on error."""
    async with get_sessionmaker(database_url)() as session, session.begin():
        yield session


def create_sync_engine(database_url: str | URL, **engine_kwargs) -> Engine:
    """A short-lived synchronous engine (migrations, maintenance scripts), on psycopg 3."""
    return create_engine(database_url_for(database_url, "psycopg"), **engine_kwargs)


async def dispose_engines() -> None:
    engines = list(_engines.values())
    _engines.clear()
    _sessionmakers.clear()
    for engine in engines:
        await engine.dispose()


def _default_url() -> str:
    from settings import get_settings

    return get_settings().DATABASE_URL


def _config() -> dict[str, Any]:
    try:
        from settings import get_settings

        settings = get_settings()
        return {
            "driver": settings.DATABASE_DRIVER,
            "pool_size": settings.DATABASE_POOL_SIZE,
            "max_overflow": settings.DATABASE_MAX_OVERFLOW,
            "statement_timeout_ms": settings.DATABASE_STATEMENT_TIMEOUT_MS,
        }
    except Exception:
        return {"driver": "asyncpg", "pool_size": 10, "max_overflow": 20, "statement_timeout_ms": 0}
