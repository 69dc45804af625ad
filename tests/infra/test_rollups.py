"""Run rollups: finishing a run counts it once into its hour and its day, with its duration
bucket, tokens and error type; the migration's backfill builds the same rows from task_runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from persistence import repository as repo
from persistence.repository import rollups

pytestmark = pytest.mark.stack


def test_buckets_are_log_spaced_and_bounded() -> None:
    assert rollups.bucket_of(None) is None
    assert rollups.bucket_of(0) == 0 and rollups.bucket_of(1) == 0
    assert rollups.bucket_of(2) == 2 and rollups.bucket_of(3) == 4
    assert rollups.bucket_of(1024) == 20 and rollups.bucket_of(1025) == 21
    assert rollups.bucket_of(10**12) == rollups.HISTOGRAM_BUCKETS - 1
    for duration in (1, 7, 230, 5000, 86_400_000):
        lower, upper = rollups.bucket_bounds(rollups.bucket_of(duration))
        assert lower < duration <= upper


def test_percentiles_are_estimated_within_their_bucket() -> None:
    histogram = [0] * rollups.HISTOGRAM_BUCKETS
    for duration in [100] * 90 + [5000] * 9 + [60_000]:
        histogram[rollups.bucket_of(duration)] += 1
    p50 = rollups.estimate_percentile(histogram, 0.50)
    p95 = rollups.estimate_percentile(histogram, 0.95)
    p99 = rollups.estimate_percentile(histogram, 0.99)
    def within_bucket_of(value: int, duration: int) -> bool:
        lower, upper = rollups.bucket_bounds(rollups.bucket_of(duration))
        return lower - 1 <= value <= upper + 1

    assert within_bucket_of(p50, 100) and within_bucket_of(p95, 5000) and within_bucket_of(p99, 5000)
    assert p95 < p99
    assert abs(p50 - 100) / 100 < 0.2
    assert rollups.estimate_percentile([0] * rollups.HISTOGRAM_BUCKETS, 0.5) is None


async def _rollup_rows(session, task_id: uuid.UUID) -> dict:
    rows = await session.execute(
        text(
            "SELECT period, start, status, trigger, runs, timed_runs, duration_ms_sum, duration_histogram, "
            "llm_prompt_tokens, llm_completion_tokens, llm_total_tokens FROM task_run_rollups WHERE task_id = :t"
        ),
        {"t": task_id},
    )
    errors = await session.execute(
        text("SELECT period, start, error_type, runs, latest_run_id FROM task_run_error_rollups WHERE task_id = :t"),
        {"t": task_id},
    )
    per_task = await session.execute(
        text(
            "SELECT period, start, runs, failed, timed_runs, duration_ms_sum, duration_histogram "
            "FROM task_rollups WHERE task_id = :t"
        ),
        {"t": task_id},
    )
    return {
        "per_task": {tuple(row[:2]): tuple(row[2:]) for row in per_task},
        "rollups": {tuple(row[:4]): tuple(row[4:]) for row in rows},
        "errors": {tuple(row[:3]): tuple(row[3:]) for row in errors},
    }


async def test_finishing_a_run_counts_it_once_in_its_hour_and_day(db_session) -> None:
    task = await repo.create_task(db_session, name=f"Rolled {uuid.uuid4().hex[:8]}", script="return 1")
    completed = datetime.now(UTC).replace(microsecond=0)
    hour = completed.replace(minute=0, second=0)
    day = hour.replace(hour=0)
    finished = []
    for index, (status, duration, error) in enumerate(
        [
            ("completed", 120, None),
            ("completed", 130, None),
            ("failed", 40, {"type": "ToolError", "message": "503"}),
            ("failed", 45, {"type": "ToolError", "message": "504"}),
            ("timed_out", 9000, {"type": "TaskTimeout", "message": "too slow"}),
        ]
    ):
        run = await repo.create_run(db_session, trigger="api", task_id=task.id, task_version=1)
        assert await repo.finish_run(
            db_session,
            run.id,
            status=status,
            error=error,
            completed_at=completed + timedelta(microseconds=index),
            duration_ms=duration,
            llm_usage={"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        )
        finished.append(run)
    # Already terminal: not counted again.
    assert not await repo.finish_run(db_session, finished[0].id, status="failed", duration_ms=1)

    found = await _rollup_rows(db_session, task.id)
    for period, start in (("hour", hour), ("day", day)):
        runs, timed, duration_sum, histogram, prompt, completion, total = found["rollups"][
            (period, start, "completed", "api")
        ]
        assert (runs, timed, duration_sum) == (2, 2, 250)
        assert histogram[rollups.bucket_of(120)] + histogram[rollups.bucket_of(130)] >= 2
        assert sum(histogram) == 2
        assert (prompt, completion, total) == (20, 10, 30)
        assert found["rollups"][(period, start, "failed", "api")][:3] == (2, 2, 85)
        assert found["errors"][(period, start, "ToolError")] == (2, finished[3].id)
        assert found["errors"][(period, start, "TaskTimeout")] == (1, finished[4].id)
    assert len(found["rollups"]) == 6
    for period, start in (("hour", hour), ("day", day)):
        runs, failed, timed, duration_sum, histogram = found["per_task"][(period, start)]
        assert (runs, failed, timed, duration_sum) == (5, 3, 5, 9335) and sum(histogram) == 5


async def test_all_runs_are_counted_across_shards(db_session) -> None:
    completed = datetime.now(UTC).replace(year=2001)
    hour = completed.replace(minute=0, second=0, microsecond=0)
    for _ in range(20):
        run = await repo.create_run(db_session, trigger="adhoc", cy_script="return 1")
        await repo.finish_run(
            db_session, run.id, status="failed", error={"type": "Shardy", "message": "x"},
            completed_at=completed, duration_ms=5,
        )
    rows = (
        await db_session.execute(
            text("SELECT shard, runs FROM run_rollups WHERE period = 'hour' AND start = :h AND trigger = 'adhoc'"),
            {"h": hour},
        )
    ).all()
    assert sum(runs for _, runs in rows) == 20 and len(rows) > 1
    breakdown = await rollups.rollup_breakdown(db_session, period="hour", since=hour, all_tasks=True)
    assert [(row.status, row.trigger, row.runs) for row in breakdown if row.start == hour] == [("failed", "adhoc", 20)]
    errors = await rollups.error_types(db_session, period="day", since=hour.replace(hour=0), all_tasks=True)
    assert ("Shardy", 20) in [(row.error_type, row.runs) for row in errors]


async def test_the_backfill_builds_the_rollups_that_finishing_builds(db_session) -> None:
    task = await repo.create_task(db_session, name=f"Backfilled {uuid.uuid4().hex[:8]}", script="return 1")
    base = datetime.now(UTC) - timedelta(days=2)
    for index in range(12):
        run = await repo.create_run(
            db_session, trigger=("api", "schedule", "cli")[index % 3], task_id=task.id, task_version=1
        )
        status = ("completed", "failed", "cancelled", "completed")[index % 4]
        await repo.finish_run(
            db_session,
            run.id,
            status=status,
            error=None if status == "completed" else {"type": f"E{index % 2}", "message": "x"},
            completed_at=base + timedelta(minutes=37 * index),
            duration_ms=(index + 1) * 333,
            llm_usage={"total_tokens": index} if index % 2 else None,
        )
    incremental = await _rollup_rows(db_session, task.id)
    await db_session.execute(text("DELETE FROM task_run_rollups WHERE task_id = :t"), {"t": task.id})
    await db_session.execute(text("DELETE FROM task_run_error_rollups WHERE task_id = :t"), {"t": task.id})
    await db_session.execute(text("DELETE FROM task_rollups WHERE task_id = :t"), {"t": task.id})
    for statement in rollups.backfill_sql(
        f"task_id = '{task.id}'", tables=("task_run_rollups", "task_run_error_rollups", "task_rollups")
    ):
        await db_session.execute(text(statement))
    backfilled = await _rollup_rows(db_session, task.id)
    assert backfilled == incremental
    assert len(incremental["rollups"]) > 6 and incremental["errors"]


async def test_rollups_before_the_retention_cutoff_are_deleted(db_session) -> None:
    old = datetime(2001, 3, 4, 5, tzinfo=UTC)
    run = await repo.create_run(db_session, trigger="adhoc", cy_script="return 1")
    await repo.finish_run(db_session, run.id, status="failed", error={"type": "Old"}, completed_at=old, duration_ms=3)
    count = "SELECT count(*) FROM {} WHERE start < :cutoff"
    cutoff = datetime(2001, 3, 6, tzinfo=UTC)
    assert (await db_session.execute(text(count.format("run_error_rollups")), {"cutoff": cutoff})).scalar_one() >= 2
    deleted = await rollups.delete_rollups_before(db_session, cutoff)
    assert deleted >= 4
    for table_name in rollups.ROLLUP_TABLES:
        assert (await db_session.execute(text(count.format(table_name)), {"cutoff": cutoff})).scalar_one() == 0
