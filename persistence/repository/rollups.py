"""Run rollups: counts, durations, tokens and error types of finished runs, per task and period.

A run is counted once, when it becomes terminal (``record_finished_run``, called by
``runs.finish_run`` in the transaction that records the end), in the hour and in the day
(UTC) of its completion. Each row is keyed by (period, task_id, start, status, trigger);
``task_id`` is NULL for ad hoc runs. Durations go into a histogram of ``HISTOGRAM_BUCKETS``
fixed, log-spaced buckets: bucket ``i`` holds durations in (2^((i-1)/2), 2^(i/2)] ms, bucket
0 those of at most 1 ms, the last one everything longer; percentiles are estimated from it
(``estimate_percentile``), within about 20 %. Error types of failed runs are counted in
``task_run_error_rollups`` with the latest run that had each.

Daily rows exist so that a 30 day window reads 30 rows per combination rather than 720:
the stats read hourly rows for 24 hours and daily rows for longer windows.

Invariants: a row only ever grows (runs are never un-finished); the backfill
(``BACKFILL_SQL``) and ``record_finished_run`` bucket a duration the same way.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

HISTOGRAM_BUCKETS = 64
PERIODS = ("hour", "day")
LLM_TOKEN_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")


def bucket_of(duration_ms: int | None) -> int | None:
    """The histogram bucket (0-based) of a duration; None when the run has none."""
    if duration_ms is None:
        return None
    return min(HISTOGRAM_BUCKETS - 1, max(0, math.ceil(2 * math.log2(max(int(duration_ms), 1)))))


def bucket_bounds(bucket: int) -> tuple[float, float]:
    """The (exclusive lower, inclusive upper) bounds of a bucket in ms."""
    upper = 2 ** (bucket / 2)
    lower = 0.0 if bucket == 0 else 2 ** ((bucket - 1) / 2)
    return lower, upper


def estimate_percentile(histogram: list[int], quantile: float) -> int | None:
    """The duration (ms) under which ``quantile`` of the counted runs fall, interpolated
    geometrically inside its bucket; None for an empty histogram."""
    total = sum(histogram)
    if total <= 0:
        return None
    rank = quantile * total
    seen = 0
    for bucket, count in enumerate(histogram):
        if count <= 0:
            continue
        if seen + count >= rank:
            lower, upper = bucket_bounds(bucket)
            fraction = (rank - seen) / count
            if lower <= 0:
                value = upper * fraction
            else:
                value = lower * (upper / lower) ** fraction
            return max(0, round(value))
        seen += count
    return round(bucket_bounds(len(histogram) - 1)[1])


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _day(moment: datetime) -> datetime:
    return _hour(moment).replace(hour=0)


def _tokens(llm_usage: dict[str, Any] | None) -> dict[str, int]:
    usage = llm_usage or {}
    tokens = {}
    for key in LLM_TOKEN_KEYS:
        try:
            tokens[key] = int(usage.get(key) or 0)
        except (TypeError, ValueError):
            tokens[key] = 0
    return tokens


_UPSERT = text(
    """
    INSERT INTO task_run_rollups (period, task_id, start, status, trigger, runs, timed_runs,
        duration_ms_sum, duration_histogram, llm_prompt_tokens, llm_completion_tokens, llm_total_tokens)
    VALUES (:period, :task_id, :start, :status, :trigger, 1, :timed, :duration, :histogram,
        :prompt_tokens, :completion_tokens, :total_tokens)
    ON CONFLICT (period, task_id, start, status, trigger) DO UPDATE SET
        runs = task_run_rollups.runs + 1,
        timed_runs = task_run_rollups.timed_runs + EXCLUDED.timed_runs,
        duration_ms_sum = task_run_rollups.duration_ms_sum + EXCLUDED.duration_ms_sum,
        duration_histogram[:slot] = task_run_rollups.duration_histogram[:slot] + EXCLUDED.timed_runs,
        llm_prompt_tokens = task_run_rollups.llm_prompt_tokens + EXCLUDED.llm_prompt_tokens,
        llm_completion_tokens = task_run_rollups.llm_completion_tokens + EXCLUDED.llm_completion_tokens,
        llm_total_tokens = task_run_rollups.llm_total_tokens + EXCLUDED.llm_total_tokens
    """
)

_ERROR_UPSERT = text(
    """
    INSERT INTO task_run_error_rollups (period, task_id, start, error_type, runs, latest_run_id, latest_at)
    VALUES (:period, :task_id, :start, :error_type, 1, :run_id, :completed_at)
    ON CONFLICT (period, task_id, start, error_type) DO UPDATE SET
        runs = task_run_error_rollups.runs + 1,
        latest_run_id = CASE WHEN EXCLUDED.latest_at >= task_run_error_rollups.latest_at
            THEN EXCLUDED.latest_run_id ELSE task_run_error_rollups.latest_run_id END,
        latest_at = GREATEST(EXCLUDED.latest_at, task_run_error_rollups.latest_at)
    """
)


def error_type_of(error: dict[str, Any] | None) -> str | None:
    if error is None:
        return None
    kind = error.get("type") if isinstance(error, dict) else None
    return str(kind)[:200] if kind else "Error"


async def record_finished_run(
    session: AsyncSession,
    *,
    run_id: uuid.UUID,
    task_id: uuid.UUID | None,
    status: str,
    trigger: str,
    completed_at: datetime,
    duration_ms: int | None,
    llm_usage: dict[str, Any] | None,
    error: dict[str, Any] | None,
) -> None:
    """Count one run that just became terminal into its hour's and its day's rollups."""
    bucket = bucket_of(duration_ms)
    histogram = [0] * HISTOGRAM_BUCKETS
    if bucket is not None:
        histogram[bucket] = 1
    tokens = _tokens(llm_usage)
    starts = {"hour": _hour(completed_at), "day": _day(completed_at)}
    rows = [
        {
            "period": period,
            "task_id": task_id,
            "start": start,
            "status": status,
            "trigger": trigger,
            "timed": 0 if bucket is None else 1,
            "duration": int(duration_ms or 0),
            "histogram": histogram,
            "slot": (bucket or 0) + 1,
            **tokens,
        }
        for period, start in starts.items()
    ]
    await session.execute(_UPSERT, rows)
    error_type = error_type_of(error) if status != "completed" else None
    if error_type is not None:
        await session.execute(
            _ERROR_UPSERT,
            [
                {
                    "period": period,
                    "task_id": task_id,
                    "start": start,
                    "error_type": error_type,
                    "run_id": run_id,
                    "completed_at": completed_at,
                }
                for period, start in starts.items()
            ],
        )


def _bucket_sql(duration: str) -> str:
    return (
        f"LEAST({HISTOGRAM_BUCKETS - 1}, GREATEST(0, "
        f"ceil(2 * log(2::numeric, GREATEST({duration}, 1)::numeric))))::int"
    )


def backfill_sql(where: str = "TRUE") -> list[str]:
    """Statements that count the terminal runs matching ``where`` (SQL over task_runs) into the
    rollups; meant for tables holding none of them yet (the migration, the benchmark)."""
    terminal = "status IN ('completed', 'failed', 'cancelled', 'timed_out')"
    finished = "COALESCE(completed_at, created_at)"
    statements = []
    for period in PERIODS:
        start = f"date_trunc('{period}', {finished} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
        statements.append(
            f"""
            INSERT INTO task_run_rollups (period, task_id, start, status, trigger, runs, timed_runs,
                duration_ms_sum, duration_histogram, llm_prompt_tokens, llm_completion_tokens,
                llm_total_tokens)
            SELECT '{period}', task_id, start, status, trigger, runs, timed_runs, duration_ms_sum,
                ARRAY(SELECT COALESCE((buckets ->> i::text)::bigint, 0)
                      FROM generate_series(0, {HISTOGRAM_BUCKETS - 1}) AS i ORDER BY i),
                p, c, t
            FROM (
                SELECT task_id, start, status, trigger, sum(runs) AS runs, sum(timed_runs) AS timed_runs,
                    sum(duration_ms_sum) AS duration_ms_sum,
                    jsonb_object_agg(bucket, timed_runs) FILTER (WHERE bucket IS NOT NULL) AS buckets,
                    sum(p) AS p, sum(c) AS c, sum(t) AS t
                FROM (
                    SELECT task_id, start, status, trigger, bucket, count(*) AS runs,
                        count(duration_ms) AS timed_runs, COALESCE(sum(duration_ms), 0) AS duration_ms_sum,
                        sum(p) AS p, sum(c) AS c, sum(t) AS t
                    FROM (
                        SELECT task_id, {start} AS start, status, trigger, duration_ms,
                            CASE WHEN duration_ms IS NOT NULL THEN {_bucket_sql('duration_ms')} END AS bucket,
                            COALESCE((llm_usage->>'prompt_tokens')::bigint, 0) AS p,
                            COALESCE((llm_usage->>'completion_tokens')::bigint, 0) AS c,
                            COALESCE((llm_usage->>'total_tokens')::bigint, 0) AS t
                        FROM task_runs WHERE {terminal} AND ({where})
                    ) AS run
                    GROUP BY task_id, start, status, trigger, bucket
                ) AS per_bucket
                GROUP BY task_id, start, status, trigger
            ) AS per_row
            """
        )
        statements.append(
            f"""
            INSERT INTO task_run_error_rollups (period, task_id, start, error_type, runs, latest_run_id, latest_at)
            SELECT DISTINCT ON (task_id, start, error_type) '{period}', task_id, start, error_type,
                count(*) OVER (PARTITION BY task_id, start, error_type), id, finished
            FROM (
                SELECT task_id, id, {finished} AS finished, {start} AS start,
                    left(COALESCE(error->>'type', 'Error'), 200) AS error_type
                FROM task_runs
                WHERE {terminal} AND status <> 'completed' AND error IS NOT NULL AND ({where})
            ) AS failed
            ORDER BY task_id, start, error_type, finished DESC, id DESC
            """
        )
    return statements


# Reading: every query filters on (period, start) and, for one task, task_id; the unique key's
# index (period, task_id, start, ...) serves one task, ix_task_run_rollups_period_start all.


def _scope(task_id: uuid.UUID | None, all_tasks: bool) -> tuple[str, dict[str, Any]]:
    if all_tasks:
        return "", {}
    return " AND task_id = :task_id", {"task_id": task_id}


async def rollup_breakdown(
    session: AsyncSession, *, period: str, since: datetime, task_id: uuid.UUID | None = None, all_tasks: bool = False
) -> list[Any]:
    """Rows (start, status, trigger, runs, timed_runs, duration_ms_sum, prompt, completion, total)
    of the rollups since ``since``, for one task or all."""
    scope, params = _scope(task_id, all_tasks)
    statement = text(
        "SELECT start, status, trigger, sum(runs)::bigint AS runs, sum(timed_runs)::bigint AS timed_runs, "
        "sum(duration_ms_sum)::bigint AS duration_ms_sum, sum(llm_prompt_tokens)::bigint AS prompt_tokens, "
        "sum(llm_completion_tokens)::bigint AS completion_tokens, sum(llm_total_tokens)::bigint AS total_tokens "
        f"FROM task_run_rollups WHERE period = :period AND start >= :since{scope} "
        "GROUP BY start, status, trigger ORDER BY start"
    )
    return list((await session.execute(statement, {"period": period, "since": since, **params})).all())


async def rollup_histogram(
    session: AsyncSession,
    *,
    period: str,
    since: datetime,
    task_id: uuid.UUID | None = None,
    all_tasks: bool = False,
) -> list[int]:
    """The duration histogram summed over the window."""
    scope, params = _scope(task_id, all_tasks)
    statement = text(
        "SELECT slot, sum(n)::bigint FROM task_run_rollups, "
        "unnest(duration_histogram) WITH ORDINALITY AS bucket(n, slot) "
        f"WHERE period = :period AND start >= :since AND timed_runs > 0{scope} GROUP BY slot"
    )
    histogram = [0] * HISTOGRAM_BUCKETS
    for slot, count in await session.execute(statement, {"period": period, "since": since, **params}):
        histogram[int(slot) - 1] = int(count)
    return histogram


async def task_histograms(
    session: AsyncSession, *, period: str, since: datetime, task_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[int]]:
    """The duration histogram of each of ``task_ids`` over the window."""
    if not task_ids:
        return {}
    statement = text(
        "SELECT task_id, slot, sum(n)::bigint FROM task_run_rollups, "
        "unnest(duration_histogram) WITH ORDINALITY AS bucket(n, slot) "
        "WHERE period = :period AND start >= :since AND timed_runs > 0 AND task_id = ANY(:task_ids) "
        "GROUP BY task_id, slot"
    )
    histograms: dict[uuid.UUID, list[int]] = {task: [0] * HISTOGRAM_BUCKETS for task in task_ids}
    rows = await session.execute(statement, {"period": period, "since": since, "task_ids": task_ids})
    for task, slot, count in rows:
        histograms[task][int(slot) - 1] = int(count)
    return histograms


async def per_task_totals(session: AsyncSession, *, period: str, since: datetime) -> list[Any]:
    """Rows (task_id, runs, failed, timed_runs, duration_ms_sum) of each saved task over the window;
    ``failed`` counts failed and timed out runs."""
    statement = text(
        "SELECT task_id, sum(runs)::bigint AS runs, "
        "COALESCE(sum(runs) FILTER (WHERE status IN ('failed', 'timed_out')), 0)::bigint AS failed, "
        "sum(timed_runs)::bigint AS timed_runs, sum(duration_ms_sum)::bigint AS duration_ms_sum "
        "FROM task_run_rollups WHERE period = :period AND start >= :since AND task_id IS NOT NULL "
        "GROUP BY task_id"
    )
    return list((await session.execute(statement, {"period": period, "since": since})).all())


async def error_types(
    session: AsyncSession,
    *,
    period: str,
    since: datetime,
    task_id: uuid.UUID | None = None,
    all_tasks: bool = False,
    limit: int = 20,
) -> list[Any]:
    """Rows (error_type, runs, latest_run_id) over the window, most frequent first."""
    scope, params = _scope(task_id, all_tasks)
    statement = text(
        "SELECT error_type, sum(runs)::bigint AS runs, "
        "(array_agg(latest_run_id ORDER BY latest_at DESC))[1] AS latest_run_id "
        f"FROM task_run_error_rollups WHERE period = :period AND start >= :since{scope} "
        "GROUP BY error_type ORDER BY runs DESC, error_type LIMIT :limit"
    )
    rows = await session.execute(statement, {"period": period, "since": since, "limit": limit, **params})
    return list(rows.all())


async def active_run_counts(session: AsyncSession, *, task_id: uuid.UUID | None = None) -> dict[str, int]:
    """How many runs are pending, running and paused now (one task's, or all)."""
    scope = " AND task_id = :task_id" if task_id is not None else ""
    statement = text(
        "SELECT status, count(*) FROM task_runs "
        f"WHERE status IN ('pending', 'running', 'paused'){scope} GROUP BY status"
    )
    counts = {"pending": 0, "running": 0, "paused": 0}
    params = {"task_id": task_id} if task_id is not None else {}
    for status, count in await session.execute(statement, params):
        counts[status] = int(count)
    return counts


async def delete_rollups_before(session: AsyncSession | AsyncConnection, cutoff: datetime) -> int:
    """Drop rollups of periods that start before ``cutoff`` (run retention)."""
    deleted = 0
    for table_name in ("task_run_rollups", "task_run_error_rollups"):
        result = await session.execute(text(f"DELETE FROM {table_name} WHERE start < :cutoff"), {"cutoff": cutoff})
        deleted += result.rowcount or 0
    return deleted
