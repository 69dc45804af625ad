"""Daily upkeep of run history: future partitions, retention (rows and their blobs), old idempotency keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, func
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.models import IdempotencyKey, Question
from persistence.partitions import drop_partitions_older_than, ensure_partitions, expired_blob_refs

IDEMPOTENCY_KEY_TTL = timedelta(days=7)


@dataclass
class MaintenanceReport:
    partitions_created: list[str] = field(default_factory=list)
    days_dropped: list[date] = field(default_factory=list)
    blobs_deleted: int = 0
    idempotency_keys_deleted: int = 0
    questions_deleted: int = 0


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
    what. Idempotent."""
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
        report.days_dropped = await drop_partitions_older_than(conn, retention_days, today=today)
        result = await conn.execute(
            delete(IdempotencyKey).where(IdempotencyKey.created_at < func.now() - IDEMPOTENCY_KEY_TTL)
        )
        report.idempotency_keys_deleted = result.rowcount
        result = await conn.execute(
            delete(Question).where(Question.run_created_at < func.now() - timedelta(days=retention_days))
        )
        report.questions_deleted = result.rowcount
    return report
