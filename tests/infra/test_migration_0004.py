"""Migration 0004_run_listing on a database of the earlier layout: DEFAULT partitions become spans, no row is lost."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from alembic import command
from sqlalchemy import make_url, text
from sqlalchemy.pool import NullPool

from devstack.postgres import libpq_url
from persistence.db import create_sync_engine
from persistence.ids import created_at_from_run_id, new_run_id
from persistence.migrate import alembic_config, downgrade, upgrade
from persistence.partitions import list_partitions_sync

pytestmark = pytest.mark.stack


@pytest.fixture
def scratch_database_url(database_url: str):
    name = f"cytasks_migration_{uuid.uuid4().hex[:8]}"
    admin = libpq_url(make_url(database_url).set(database="postgres").render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _where(conn, run_id: uuid.UUID) -> str | None:
    return conn.scalar(text("SELECT tableoid::regclass::text FROM task_runs WHERE id = :id"), {"id": run_id})


def test_upgrade_moves_default_rows_and_downgrade_restores_them(scratch_database_url: str) -> None:
    command.upgrade(alembic_config(scratch_database_url), "0002_questions")  # no partition upkeep
    stray = [new_run_id(datetime.now(UTC) + timedelta(days=days)) for days in (-200, 300)]
    engine = create_sync_engine(scratch_database_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            for run_id in stray:
                conn.execute(
                    text(
                        "INSERT INTO task_runs (id, created_at, trigger, cy_script) "
                        "VALUES (:id, :created_at, 'adhoc', 'return 1')"
                    ),
                    {"id": run_id, "created_at": created_at_from_run_id(run_id)},
                )
            assert {_where(conn, run_id) for run_id in stray} == {"task_runs_default"}

        upgrade(scratch_database_url)
        with engine.connect() as conn:
            for table in ("task_runs", "task_run_logs"):
                parts = list_partitions_sync(conn, table)
                assert parts[0].lower is None and parts[-1].upper is None
                assert all(a.upper == b.lower for a, b in zip(parts, parts[1:])), parts
            names = {_where(conn, run_id) for run_id in stray}
            assert all(name.startswith("task_runs_s") for name in names), names
            indexes = set(conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'task_runs'")).scalars())
            assert {"ix_task_runs_task_id_status_created_at_id", "ix_task_runs_task_id_trigger_created_at_id"} <= indexes

        downgrade(scratch_database_url, "0002_questions")
        with engine.connect() as conn:
            assert {_where(conn, run_id) for run_id in stray} == {"task_runs_default"}
            assert not [part for part in list_partitions_sync(conn) if not part.is_day]
    finally:
        engine.dispose()
