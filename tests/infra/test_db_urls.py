"""Database URLs: either driver's spelling works, for the async (asyncpg) and sync (psycopg) engines."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from persistence.db import async_engine_options, create_sync_engine, database_url_for, get_engine


@pytest.mark.parametrize(
    "given",
    [
        "postgresql+psycopg://postgres@/cytasks?host=/tmp/sock%20dir",
        "postgresql+asyncpg://postgres@/cytasks?host=/tmp/sock%20dir",
        "postgresql://postgres@/cytasks?host=/tmp/sock%20dir",
    ],
)
def test_unix_socket_urls_map_to_either_driver(given: str) -> None:
    for driver in ("asyncpg", "psycopg"):
        url = database_url_for(given, driver)
        assert url.drivername == f"postgresql+{driver}"
        assert url.query["host"] == "/tmp/sock dir" and url.database == "cytasks" and url.username == "postgres"


def test_connection_options_are_renamed_for_the_driver() -> None:
    libpq = "postgresql+psycopg://u:p@db:5433/x?sslmode=require&connect_timeout=5&application_name=a"
    url, options = async_engine_options(libpq, "asyncpg")
    assert url.drivername == "postgresql+asyncpg" and url.port == 5433 and url.password == "p"
    assert url.query == {"ssl": "require", "application_name": "a"}
    assert options["connect_args"]["timeout"] == 5.0
    back = database_url_for(database_url_for(libpq, "asyncpg"), "psycopg")
    assert back.query == {"sslmode": "require", "connect_timeout": "5", "application_name": "a"}
    with pytest.raises(ValueError):
        database_url_for("mysql://u@h/x", "asyncpg")
    with pytest.raises(ValueError):
        database_url_for(libpq, "pg8000")  # type: ignore[arg-type]


@pytest.mark.stack
async def test_async_engine_speaks_asyncpg_and_sync_engine_psycopg(database_url: str) -> None:
    engine = get_engine(database_url)
    assert engine.dialect.driver == "asyncpg"
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT current_setting('application_name')")) == "cytasks"
        assert await conn.scalar(text("SELECT current_setting('statement_timeout')")) != "0"
        assert await conn.scalar(text("SELECT CAST('{\"a\": [1, 2]}' AS jsonb)")) == {"a": [1, 2]}
    psycopg_engine = get_engine(database_url, driver="psycopg")
    assert psycopg_engine.dialect.driver == "psycopg"
    async with psycopg_engine.connect() as conn:
        assert await conn.scalar(text("SELECT current_setting('application_name')")) == "cytasks"
    sync = create_sync_engine(database_url)
    try:
        assert sync.dialect.driver == "psycopg"
        with sync.connect() as conn:
            assert conn.scalar(text("SELECT 1")) == 1
    finally:
        sync.dispose()
