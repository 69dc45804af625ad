"""Daily upkeep of run history: future partitions, retention (rows and their blobs), old idempotency keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from persistence.models import PARTITIONED_TABLES, IdempotencyKey, Question, TaskRun
from persistence.partitions import (
    drop_partitions_older_than,
    ensure_partitions,
    expired_blob_refs,
    list_day_partitions,
    partition_name,
)
from persistence.repository.rollups import delete_rollups_before

IDEMPOTENCY_KEY_TTL = timedelta(days=7)


@dataclass
class MaintenanceReport:
    partitions_created: list[str] = field(default_factory=list)
    partitions_dropped: list[str] = field(default_factory=list)
    days_dropped: list[date] = field(default_factory=list)
    runs_deleted: int = 0
    blobs_deleted: int = 0
    idempotency_keys_deleted: int = 0
    questions_deleted: int = 0

    def lines(self) -> list[str]:
        """The report in words, one line per kind of change."""
        return [
            _named("partitions created", self.partitions_created),
            _named("partitions dropped", self.partitions_dropped),
            f"runs deleted: {self.runs_deleted}",
            f"blobs deleted: {self.blobs_deleted}",
            f"questions deleted: {self.questions_deleted}",
            f"idempotency keys deleted: {self.idempotency_keys_deleted}",
        ]


def _named(label: str, names: list[str], shown: int = 6) -> str:
    if not names:
        return f"{label}: 0"
    listed = ", ".join(names[:shown]) + (f", … ({len(names) - shown} more)" if len(names) > shown else "")
    return f"{label}: {len(names)} ({listed})"


def _cutoff(retention_days: int, today: date | None) -> datetime:
    day = (today or datetime.now(UTC).date()) - timedelta(days=retention_days)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


async def _day_partitions(conn: AsyncConnection) -> set[str]:
    names: set[str] = set()
    for table in PARTITIONED_TABLES:
        names.update(partition_name(table, day) for day in await list_day_partitions(conn, table))
    return names


async def run_maintenance(
    engine: AsyncEngine,
    *,
    retention_days: int,
    days_ahead: int = 7,
    delete_blob: Callable[[str], Awaitable[None]] | None = None,
    today: date | None = None,
) -> MaintenanceReport:
    """Create upcoming day partitions (and one for every day within retention that has runs
    in a span partition), delete the blobs of runs past retention, drop their
    partitions and their questions, and forget idempotency keys older than
    IDEMPOTENCY_KEY_TTL. Answer audit rows are kept: they are the record of who answered
    what. Run rollups of periods before the retention cutoff are deleted too. Idempotent."""
    report = MaintenanceReport()
    async with engine.begin() as conn:
        report.partitions_created = await ensure_partitions(
            conn, days_ahead=days_ahead, days_back=1, today=today,
            rows_since=(today or datetime.now(UTC).date()) - timedelta(days=retention_days),
        )
    if delete_blob is not None:
        async with engine.connect() as conn:
            refs = await expired_blob_refs(conn, retention_days, today=today)
        for ref in refs:
            await delete_blob(ref)
        report.blobs_deleted = len(refs)
    async with engine.begin() as conn:
        before = await _day_partitions(conn)
        report.runs_deleted = await conn.scalar(
            select(func.count()).select_from(TaskRun).where(TaskRun.created_at < _cutoff(retention_days, today))
        ) or 0
        report.days_dropped = await drop_partitions_older_than(conn, retention_days, today=today)
        report.partitions_dropped = sorted(before - await _day_partitions(conn))
        result = await conn.execute(
            delete(IdempotencyKey).where(IdempotencyKey.created_at < func.now() - IDEMPOTENCY_KEY_TTL)
        )
        report.idempotency_keys_deleted = result.rowcount
        result = await conn.execute(
            delete(Question).where(Question.run_created_at < func.now() - timedelta(days=retention_days))
        )
        report.questions_deleted = result.rowcount
        # Rollups of periods past retention go with the runs they counted.
        await delete_rollups_before(conn, _cutoff(retention_days, today))
    return report
