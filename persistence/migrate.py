"""Apply the Alembic migrations programmatically, then make sure the run partitions exist."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from sqlalchemy.pool import NullPool

from persistence.db import create_sync_engine
from persistence.partitions import ensure_partitions_sync

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head", partition_days_ahead: int = 7) -> None:
    """Bring the schema to `revision` and create the day partitions; safe to call at every start."""
    command.upgrade(alembic_config(database_url), revision)
    engine = create_sync_engine(database_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            ensure_partitions_sync(conn, days_ahead=partition_days_ahead, days_back=1)
    finally:
        engine.dispose()


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def current_revision(database_url: str) -> str | None:
    engine = create_sync_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("postgresql://")).get_current_head()
