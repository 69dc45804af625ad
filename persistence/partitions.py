"""Daily partitions of task_runs and task_run_logs: creation ahead of time and retention.

Each partitioned table has a DEFAULT partition, so an insert never fails for want of a partition;
`ensure_partitions` moves any rows that landed there into the day partition it creates."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection

from persistence.models import PARTITIONED_TABLES

_PARTITION_NAME = re.compile(r"^(?P<table>[a-z_]+)_p(?P<day>\d{8})$")
_LOCK_KEY = 0x63797461  # serializes partition maintenance across processes


def partition_name(table: str, day: date) -> str:
    return f"{table}_p{day:%Y%m%d}"


def default_partition_name(table: str) -> str:
    return f"{table}_default"


def _bounds(day: date) -> tuple[str, str]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start.isoformat(), (start + timedelta(days=1)).isoformat()


def _today() -> date:
    return datetime.now(UTC).date()


def _create_default_partitions(conn: Connection) -> None:
    for table in PARTITIONED_TABLES:
        conn.execute(
            text(f"CREATE TABLE IF NOT EXISTS {default_partition_name(table)} PARTITION OF {table} DEFAULT")
        )


def _existing_day_partitions(conn: Connection, table: str) -> dict[date, str]:
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relname = :table"
        ),
        {"table": table},
    ).scalars()
    days: dict[date, str] = {}
    for name in rows:
        match = _PARTITION_NAME.match(name)
        if match and match["table"] == table:
            days[datetime.strptime(match["day"], "%Y%m%d").date()] = name
    return days


def _create_day_partition(conn: Connection, table: str, key: str, day: date) -> None:
    name = partition_name(table, day)
    lower, upper = _bounds(day)
    default = default_partition_name(table)
    stray = conn.execute(
        text(f"SELECT EXISTS (SELECT 1 FROM {default} WHERE {key} >= :lower AND {key} < :upper)"),
        {"lower": lower, "upper": upper},
    ).scalar()
    if not stray:
        conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} "
                f"FOR VALUES FROM ('{lower}') TO ('{upper}')"
            )
        )
        return
    conn.execute(text(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    conn.execute(
        text(
            f"WITH moved AS (DELETE FROM {default} WHERE {key} >= :lower AND {key} < :upper RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved"
        ),
        {"lower": lower, "upper": upper},
    )
    conn.execute(
        text(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ('{lower}') TO ('{upper}')")
    )


def ensure_partitions_sync(
    conn: Connection, days_ahead: int = 7, days_back: int = 1, today: date | None = None
) -> list[str]:
    """Create the DEFAULT partitions and one partition per day in [today - days_back, today + days_ahead].

    Idempotent; returns the names of the partitions it created. Runs in the caller's transaction."""
    today = today or _today()
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    conn.execute(text("SET LOCAL lock_timeout = '10s'"))
    _create_default_partitions(conn)
    created: list[str] = []
    for table, key in PARTITIONED_TABLES.items():
        existing = _existing_day_partitions(conn, table)
        for offset in range(-days_back, days_ahead + 1):
            day = today + timedelta(days=offset)
            if day not in existing:
                _create_day_partition(conn, table, key, day)
                created.append(partition_name(table, day))
    return created


def drop_partitions_older_than_sync(
    conn: Connection, days: int, today: date | None = None
) -> list[date]:
    """Drop every day partition whose whole day is older than `days` days, and delete the rows
    older than that from the DEFAULT partitions. Returns the days dropped (from task_runs)."""
    today = today or _today()
    cutoff_day = today - timedelta(days=days)
    cutoff = datetime(cutoff_day.year, cutoff_day.month, cutoff_day.day, tzinfo=UTC)
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    conn.execute(text("SET LOCAL lock_timeout = '10s'"))
    dropped: set[date] = set()
    for table, key in PARTITIONED_TABLES.items():
        for day, name in sorted(_existing_day_partitions(conn, table).items()):
            if day < cutoff_day:
                conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
                if table == "task_runs":
                    dropped.add(day)
        conn.execute(
            text(f"DELETE FROM {default_partition_name(table)} WHERE {key} < :cutoff"),
            {"cutoff": cutoff},
        )
    return sorted(dropped)


def expired_blob_refs_sync(conn: Connection, days: int, today: date | None = None) -> list[str]:
    """Blob refs of the runs that `drop_partitions_older_than(days)` would remove; delete them first."""
    today = today or _today()
    cutoff_day = today - timedelta(days=days)
    cutoff = datetime(cutoff_day.year, cutoff_day.month, cutoff_day.day, tzinfo=UTC)
    rows = conn.execute(
        text(
            "SELECT input_ref AS ref FROM task_runs WHERE created_at < :cutoff "
            "AND input_storage <> 'inline' AND input_ref IS NOT NULL "
            "UNION ALL "
            "SELECT output_ref FROM task_runs WHERE created_at < :cutoff "
            "AND output_storage IS NOT NULL AND output_storage <> 'inline' AND output_ref IS NOT NULL"
        ),
        {"cutoff": cutoff},
    ).scalars()
    return list(rows)


def list_day_partitions_sync(conn: Connection, table: str = "task_runs") -> list[date]:
    return sorted(_existing_day_partitions(conn, table))


async def ensure_partitions(
    conn: AsyncConnection | Connection, days_ahead: int = 7, days_back: int = 1, today: date | None = None
) -> list[str]:
    if isinstance(conn, AsyncConnection):
        return await conn.run_sync(ensure_partitions_sync, days_ahead, days_back, today)
    return ensure_partitions_sync(conn, days_ahead, days_back, today)


async def drop_partitions_older_than(
    conn: AsyncConnection | Connection, days: int, today: date | None = None
) -> list[date]:
    if isinstance(conn, AsyncConnection):
        return await conn.run_sync(drop_partitions_older_than_sync, days, today)
    return drop_partitions_older_than_sync(conn, days, today)


async def expired_blob_refs(
    conn: AsyncConnection | Connection, days: int, today: date | None = None
) -> list[str]:
    if isinstance(conn, AsyncConnection):
        return await conn.run_sync(expired_blob_refs_sync, days, today)
    return expired_blob_refs_sync(conn, days, today)


async def list_day_partitions(conn: AsyncConnection | Connection, table: str = "task_runs") -> list[date]:
    if isinstance(conn, AsyncConnection):
        return await conn.run_sync(list_day_partitions_sync, table)
    return list_day_partitions_sync(conn, table)
