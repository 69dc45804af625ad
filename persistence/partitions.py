"""Daily partitions of task_runs, task_run_logs and workflow_runs: creation ahead of time and retention.

The partitions of a table cover the whole time line, so an insert never fails for want of a
partition, and there is no DEFAULT partition (one would stop the planner from reading the
partitions in order, newest first, and stopping at the page's last row):

* day partitions `<table>_pYYYYMMDD` hold one UTC day each;
* span partitions `<table>_s<from>_<to>` (`from` may be `min`, `to` may be `max`) cover the
  days between and around them, and are normally empty.

Creating a day partition carves its day out of the span that covers it: the span is detached,
replaced by the day and the spans left on either side, and whatever rows it held are inserted
again through the parent table, so they land in their new partition."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection

from persistence.models import PARTITIONED_TABLES

RUN_TABLES = ("task_runs", "workflow_runs")
"""The partitioned tables whose rows may keep their input and output in the blob store."""
_PARTITION_NAME = re.compile(r"^(?P<table>[a-z_]+)_p(?P<day>\d{8})$")
_SPAN_NAME = re.compile(r"^(?P<table>[a-z_]+)_s(?P<lower>min|\d{8})_(?P<upper>max|\d{8})$")
_LOCK_KEY = 0x63797461  # serializes partition maintenance across processes


@dataclass(frozen=True)
class Partition:
    name: str
    lower: date | None  # None: MINVALUE
    upper: date | None  # None: MAXVALUE; exclusive
    is_day: bool

    def covers(self, day: date) -> bool:
        return (self.lower is None or self.lower <= day) and (self.upper is None or day < self.upper)


def partition_name(table: str, day: date) -> str:
    return f"{table}_p{day:%Y%m%d}"


def span_name(table: str, lower: date | None, upper: date | None) -> str:
    low = "min" if lower is None else f"{lower:%Y%m%d}"
    high = "max" if upper is None else f"{upper:%Y%m%d}"
    return f"{table}_s{low}_{high}"


def default_partition_name(table: str) -> str:
    """The DEFAULT partition of the first schema revisions (replaced by spans since 0004_run_listing)."""
    return f"{table}_default"


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _bound(day: date | None, infinite: str) -> str:
    return infinite if day is None else f"'{_midnight(day).isoformat()}'"


def _today() -> date:
    return datetime.now(UTC).date()


def _parse_day(value: str) -> date:
    return datetime.strptime(value, "%Y%m%d").date()


def _child_names(conn: Connection, table: str) -> list[str]:
    return list(
        conn.execute(
            text(
                "SELECT c.relname FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent "
                "WHERE p.relname = :table"
            ),
            {"table": table},
        ).scalars()
    )


def _partitions(conn: Connection, table: str) -> list[Partition]:
    """Day and span partitions of `table`, in time order."""
    parts = []
    for name in _child_names(conn, table):
        if (match := _PARTITION_NAME.match(name)) and match["table"] == table:
            day = _parse_day(match["day"])
            parts.append(Partition(name, day, day + timedelta(days=1), True))
        elif (match := _SPAN_NAME.match(name)) and match["table"] == table:
            lower = None if match["lower"] == "min" else _parse_day(match["lower"])
            upper = None if match["upper"] == "max" else _parse_day(match["upper"])
            parts.append(Partition(name, lower, upper, False))
    return sorted(parts, key=lambda part: (part.lower is not None, part.lower or date.min))


def _existing_day_partitions(conn: Connection, table: str) -> dict[date, str]:
    return {part.lower: part.name for part in _partitions(conn, table) if part.is_day}  # type: ignore[misc]


def _create_partition(conn: Connection, table: str, lower: date | None, upper: date | None) -> str:
    is_day = lower is not None and upper == lower + timedelta(days=1)
    name = partition_name(table, lower) if is_day else span_name(table, lower, upper)  # type: ignore[arg-type]
    conn.execute(
        text(
            f"CREATE TABLE {name} PARTITION OF {table} "
            f"FOR VALUES FROM ({_bound(lower, 'MINVALUE')}) TO ({_bound(upper, 'MAXVALUE')})"
        )
    )
    return name


def _gaps(parts: list[Partition]) -> list[tuple[date | None, date | None]]:
    """The stretches of the time line no partition covers."""
    gaps: list[tuple[date | None, date | None]] = []
    position: date | None = None  # None at the start: minus infinity
    started = False
    for part in parts:
        if not started:
            if part.lower is not None:
                gaps.append((None, part.lower))
            started = True
        elif position is not None and part.lower is not None and position < part.lower:
            gaps.append((position, part.lower))
        if part.upper is None:
            return gaps
        position = part.upper if position is None or part.upper > position else position
    gaps.append((position, None))
    return gaps


def _cover_gaps(conn: Connection, table: str) -> list[str]:
    return [_create_partition(conn, table, lower, upper) for lower, upper in _gaps(_partitions(conn, table))]


def _pieces(span: Partition, days: list[date]) -> list[tuple[date | None, date | None]]:
    """`span` cut at each of `days` (sorted, all inside it): the days and what is left between."""
    pieces: list[tuple[date | None, date | None]] = []
    start = span.lower
    for day in days:
        if start is None or start < day:
            pieces.append((start, day))
        pieces.append((day, day + timedelta(days=1)))
        start = day + timedelta(days=1)
    if span.upper is None or start < span.upper:  # type: ignore[operator]
        pieces.append((start, span.upper))
    return pieces


def _replace_partition(conn: Connection, table: str, old: str, pieces: list[tuple[date | None, date | None]]) -> None:
    """Swap partition `old` for partitions covering `pieces`, keeping its rows."""
    detached = f"{table}_detached"
    conn.execute(text(f"ALTER TABLE {table} DETACH PARTITION {old}"))
    conn.execute(text(f"ALTER TABLE {old} RENAME TO {detached}"))
    for lower, upper in pieces:
        _create_partition(conn, table, lower, upper)
    conn.execute(text(f"INSERT INTO {table} SELECT * FROM {detached}"))
    conn.execute(text(f"DROP TABLE {detached}"))


def _carve_days(conn: Connection, table: str, days: set[date]) -> list[str]:
    parts = _partitions(conn, table)
    existing = {part.lower for part in parts if part.is_day}
    wanted: dict[Partition, list[date]] = {}
    for day in sorted(days - existing):
        span = next(part for part in parts if not part.is_day and part.covers(day))
        wanted.setdefault(span, []).append(day)
    created = []
    for span, span_days in wanted.items():
        _replace_partition(conn, table, span.name, _pieces(span, span_days))
        created.extend(partition_name(table, day) for day in span_days)
    return created


def _days_with_rows(conn: Connection, table: str, key: str, since: date, until: date) -> set[date]:
    days: set[date] = set()
    for part in _partitions(conn, table):
        if part.is_day:
            continue
        rows = conn.execute(
            text(
                f"SELECT DISTINCT ({key} AT TIME ZONE 'UTC')::date FROM {part.name} "
                f"WHERE {key} >= :since AND {key} < :until"
            ),
            {"since": _midnight(since), "until": _midnight(until)},
        ).scalars()
        days.update(rows)
    return days


def _lock(conn: Connection) -> None:
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    conn.execute(text("SET LOCAL lock_timeout = '10s'"))
    # Moving the rows of a span may take longer than the engine's statement_timeout.
    conn.execute(text("SET LOCAL statement_timeout = 0"))


def _replace_default_partition(conn: Connection, table: str) -> None:
    default = default_partition_name(table)
    if default in _child_names(conn, table):
        detached = f"{table}_detached"
        conn.execute(text(f"ALTER TABLE {table} DETACH PARTITION {default}"))
        conn.execute(text(f"ALTER TABLE {default} RENAME TO {detached}"))
        _cover_gaps(conn, table)
        conn.execute(text(f"INSERT INTO {table} SELECT * FROM {detached}"))
        conn.execute(text(f"DROP TABLE {detached}"))
    else:
        _cover_gaps(conn, table)


def replace_default_partitions_sync(conn: Connection, tables: Iterable[str]) -> None:
    """Move from a DEFAULT partition to spans: its rows are kept and land where they belong.
    A table with no partition at all gets spans covering the whole time line."""
    _lock(conn)
    for table in tables:
        _replace_default_partition(conn, table)


def restore_default_partitions_sync(conn: Connection, tables: Iterable[str]) -> None:
    """The reverse of replace_default_partitions_sync: spans give their rows to a DEFAULT partition."""
    _lock(conn)
    for table in tables:
        spans = [part for part in _partitions(conn, table) if not part.is_day]
        for span in spans:
            conn.execute(text(f"ALTER TABLE {table} DETACH PARTITION {span.name}"))
        conn.execute(text(f"CREATE TABLE {default_partition_name(table)} PARTITION OF {table} DEFAULT"))
        for span in spans:
            conn.execute(text(f"INSERT INTO {table} SELECT * FROM {span.name}"))
            conn.execute(text(f"DROP TABLE {span.name}"))


def ensure_partitions_sync(
    conn: Connection,
    days_ahead: int = 7,
    days_back: int = 1,
    today: date | None = None,
    rows_since: date | None = None,
) -> list[str]:
    """Give a partition to every day in [today - days_back, today + days_ahead], and, when
    `rows_since` is given, to every day from `rows_since` to today + days_ahead that has rows in
    a span. Covers any stretch of time left without a partition.

    Idempotent; returns the names of the day partitions it created. Runs in the caller's transaction."""
    today = today or _today()
    _lock(conn)
    created: list[str] = []
    for table, key in PARTITIONED_TABLES.items():
        _replace_default_partition(conn, table)  # a schema older than 0004_run_listing; else covers gaps
        days = {today + timedelta(days=offset) for offset in range(-days_back, days_ahead + 1)}
        if rows_since is not None:
            days |= _days_with_rows(conn, table, key, rows_since, today + timedelta(days=days_ahead + 1))
        created.extend(_carve_days(conn, table, days))
    return created


def drop_partitions_older_than_sync(
    conn: Connection, days: int, today: date | None = None
) -> list[date]:
    """Drop every partition whose whole range is older than `days` days and delete the older rows
    of the span that straddles the cutoff. Returns the days dropped (from task_runs)."""
    today = today or _today()
    cutoff_day = today - timedelta(days=days)
    cutoff = _midnight(cutoff_day)
    _lock(conn)
    dropped: set[date] = set()
    for table, key in PARTITIONED_TABLES.items():
        for part in _partitions(conn, table):
            if part.upper is not None and part.upper <= cutoff_day:
                conn.execute(text(f"DROP TABLE IF EXISTS {part.name}"))
                if part.is_day and table == "task_runs":
                    dropped.add(part.lower)  # type: ignore[arg-type]
            elif not part.is_day and (part.lower is None or part.lower < cutoff_day):
                conn.execute(text(f"DELETE FROM {part.name} WHERE {key} < :cutoff"), {"cutoff": cutoff})
        _cover_gaps(conn, table)
    return sorted(dropped)


def expired_blob_refs_sync(conn: Connection, days: int, today: date | None = None) -> list[str]:
    """Blob refs of the runs that `drop_partitions_older_than(days)` would remove; delete them first."""
    today = today or _today()
    cutoff = _midnight(today - timedelta(days=days))
    selects = [
        f"SELECT input_ref AS ref FROM {table} WHERE created_at < :cutoff "
        "AND input_storage <> 'inline' AND input_ref IS NOT NULL "
        "UNION ALL "
        f"SELECT output_ref FROM {table} WHERE created_at < :cutoff "
        "AND output_storage IS NOT NULL AND output_storage <> 'inline' AND output_ref IS NOT NULL"
        for table in RUN_TABLES
    ]
    rows = conn.execute(text(" UNION ALL ".join(selects)), {"cutoff": cutoff}).scalars()
    return list(rows)


def list_day_partitions_sync(conn: Connection, table: str = "task_runs") -> list[date]:
    return sorted(_existing_day_partitions(conn, table))


def list_partitions_sync(conn: Connection, table: str = "task_runs") -> list[Partition]:
    return _partitions(conn, table)


async def ensure_partitions(
    conn: AsyncConnection | Connection,
    days_ahead: int = 7,
    days_back: int = 1,
    today: date | None = None,
    rows_since: date | None = None,
) -> list[str]:
    if isinstance(conn, AsyncConnection):
        return await conn.run_sync(ensure_partitions_sync, days_ahead, days_back, today, rows_since)
    return ensure_partitions_sync(conn, days_ahead, days_back, today, rows_since)


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


async def list_partitions(conn: AsyncConnection | Connection, table: str = "task_runs") -> list[Partition]:
    if isinstance(conn, AsyncConnection):
        return await conn.run_sync(list_partitions_sync, table)
    return list_partitions_sync(conn, table)
