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
ROLLUP_TABLES = ("task_run_rollups", "task_run_error_rollups", "run_rollups", "run_error_rollups", "task_rollups")
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


SHARDS = 8
"""All-run rows are split over this many shards (a run's shard comes from its id), so that runs
finishing at the same time do not all wait on one row's lock; readers sum the shards."""

_COUNTED = (
    "runs = {t}.runs + 1, "
    "timed_runs = {t}.timed_runs + EXCLUDED.timed_runs, "
    "duration_ms_sum = {t}.duration_ms_sum + EXCLUDED.duration_ms_sum, "
    "duration_histogram[:slot] = {t}.duration_histogram[:slot] + EXCLUDED.timed_runs"
)
_TOKENS = (
    "llm_prompt_tokens = {t}.llm_prompt_tokens + EXCLUDED.llm_prompt_tokens, "
    "llm_completion_tokens = {t}.llm_completion_tokens + EXCLUDED.llm_completion_tokens, "
    "llm_total_tokens = {t}.llm_total_tokens + EXCLUDED.llm_total_tokens"
)
_LATEST = (
    "runs = {t}.runs + 1, "
    "latest_run_id = CASE WHEN EXCLUDED.latest_at >= {t}.latest_at "
    "THEN EXCLUDED.latest_run_id ELSE {t}.latest_run_id END, "
    "latest_at = GREATEST(EXCLUDED.latest_at, {t}.latest_at)"
)
_VALUES = (
    "CAST(:status AS text) AS status, CAST(:trigger AS text) AS trigger, CAST(:timed AS bigint) AS timed, "
    "CAST(:duration AS bigint) AS duration, CAST(:histogram AS bigint[]) AS histogram, "
    "CAST(:prompt_tokens AS bigint) AS p, CAST(:completion_tokens AS bigint) AS c, "
    "CAST(:total_tokens AS bigint) AS t, CAST(:task_id AS uuid) AS task_id, CAST(:shard AS smallint) AS shard, "
    "CAST(:failed AS bigint) AS failed"
)


def _upsert_sql(with_error: bool) -> str:
    parts = [
        "periods(period, start) AS (VALUES ('hour', CAST(:hour AS timestamptz)), ('day', CAST(:day AS timestamptz)))",
        f"run AS (SELECT {_VALUES})",
        "by_task AS (INSERT INTO task_run_rollups (period, task_id, start, status, trigger, runs, timed_runs, "
        "duration_ms_sum, duration_histogram, llm_prompt_tokens, llm_completion_tokens, llm_total_tokens) "
        "SELECT period, task_id, start, status, trigger, 1, timed, duration, histogram, p, c, t FROM periods, run "
        "ON CONFLICT (period, task_id, start, status, trigger) DO UPDATE SET "
        + _COUNTED.format(t="task_run_rollups") + ", " + _TOKENS.format(t="task_run_rollups") + ")",
        "by_shard AS (INSERT INTO run_rollups (period, shard, start, status, trigger, runs, timed_runs, "
        "duration_ms_sum, duration_histogram, llm_prompt_tokens, llm_completion_tokens, llm_total_tokens) "
        "SELECT period, shard, start, status, trigger, 1, timed, duration, histogram, p, c, t FROM periods, run "
        "ON CONFLICT (period, shard, start, status, trigger) DO UPDATE SET "
        + _COUNTED.format(t="run_rollups") + ", " + _TOKENS.format(t="run_rollups") + ")",
        "per_task AS (INSERT INTO task_rollups (period, task_id, start, runs, failed, timed_runs, duration_ms_sum, "
        "duration_histogram) SELECT period, task_id, start, 1, failed, timed, duration, histogram FROM periods, run "
        "WHERE task_id IS NOT NULL ON CONFLICT (period, task_id, start) DO UPDATE SET "
        "failed = task_rollups.failed + EXCLUDED.failed, " + _COUNTED.format(t="task_rollups") + ")",
    ]
    if with_error:
        error_values = (
            "CAST(:error_type AS text) AS error_type, CAST(:run_id AS uuid) AS run_id, "
            "CAST(:completed_at AS timestamptz) AS completed_at"
        )
        parts += [
            f"failure AS (SELECT {error_values})",
            "task_error AS (INSERT INTO task_run_error_rollups (period, task_id, start, error_type, runs, "
            "latest_run_id, latest_at) SELECT period, task_id, start, error_type, 1, run_id, completed_at "
            "FROM periods, run, failure ON CONFLICT (period, task_id, start, error_type) DO UPDATE SET "
            + _LATEST.format(t="task_run_error_rollups") + ")",
            "shard_error AS (INSERT INTO run_error_rollups (period, shard, start, error_type, runs, "
            "latest_run_id, latest_at) SELECT period, shard, start, error_type, 1, run_id, completed_at "
            "FROM periods, run, failure ON CONFLICT (period, shard, start, error_type) DO UPDATE SET "
            + _LATEST.format(t="run_error_rollups") + ")",
        ]
    return "WITH " + ",\n".join(parts) + "\nSELECT 1"


_UPSERT = text(_upsert_sql(with_error=False))
_UPSERT_WITH_ERROR = text(_upsert_sql(with_error=True))
FAILING_STATUSES = ("failed", "timed_out")


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
    """Count one run that just became terminal into its hour's and its day's rollups: its
    task's, all runs' and, when it has an error, its error type's (one statement)."""
    bucket = bucket_of(duration_ms)
    histogram = [0] * HISTOGRAM_BUCKETS
    if bucket is not None:
        histogram[bucket] = 1
    error_type = error_type_of(error) if status != "completed" else None
    params: dict[str, Any] = {
        "hour": _hour(completed_at),
        "day": _day(completed_at),
        "task_id": task_id,
        "shard": run_id.int % SHARDS,
        "status": status,
        "trigger": trigger,
        "timed": 0 if bucket is None else 1,
        "duration": int(duration_ms or 0),
        "histogram": histogram,
        "slot": (bucket or 0) + 1,
        "failed": 1 if status in FAILING_STATUSES else 0,
        **_tokens(llm_usage),
    }
    if error_type is None:
        await session.execute(_UPSERT, params)
    else:
        params.update(error_type=error_type, run_id=run_id, completed_at=completed_at)
        await session.execute(_UPSERT_WITH_ERROR, params)


def _bucket_sql(duration: str) -> str:
    return (
        f"LEAST({HISTOGRAM_BUCKETS - 1}, GREATEST(0, "
        f"ceil(2 * log(2::numeric, GREATEST({duration}, 1)::numeric))))::int"
    )


_TOKEN_COLUMNS = {f"llm_{key}": key for key in LLM_TOKEN_KEYS}
_COUNT_TABLES = (
    # table, its key columns besides period, its other sums (column -> the staged value), which rows
    ("task_run_rollups", ("task_id", "start", "status", "trigger"), _TOKEN_COLUMNS, "TRUE"),
    ("run_rollups", ("shard", "start", "status", "trigger"), _TOKEN_COLUMNS, "TRUE"),
    ("task_rollups", ("task_id", "start"), {"failed": "failing"}, "task_id IS NOT NULL"),
)
_ERROR_TABLES = (("task_run_error_rollups", "task_id"), ("run_error_rollups", "shard"))


def backfill_sql(where: str = "TRUE", tables: tuple[str, ...] = ROLLUP_TABLES) -> list[str]:
    """Statements that count the terminal runs matching ``where`` (SQL over task_runs) into the
    rollup ``tables``; meant for tables holding none of them yet (the migration, the benchmark).
    task_runs is read twice (all finished runs, then the failed ones), into temporary tables at
    the finest grain (task, hour, status, trigger, duration bucket) that every rollup is summed
    from. All-run rows go to shard 0."""
    terminal = "status IN ('completed', 'failed', 'cancelled', 'timed_out')"
    finished = "COALESCE(completed_at, created_at)"
    hour = f"date_trunc('hour', {finished} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    tokens = ", ".join(
        f"sum(COALESCE((llm_usage->>'{key}')::bigint, 0)) AS {key}" for key in LLM_TOKEN_KEYS
    )
    statements = [
        "DROP TABLE IF EXISTS rollup_backfill_runs, rollup_backfill_errors",
        f"""
        CREATE TEMPORARY TABLE rollup_backfill_runs ON COMMIT DROP AS
        SELECT task_id, {hour} AS hour, status, trigger,
            CASE WHEN duration_ms IS NOT NULL THEN {_bucket_sql('duration_ms')} END AS bucket,
            count(*) AS runs, count(duration_ms) AS timed_runs, COALESCE(sum(duration_ms), 0) AS duration_ms_sum,
            count(*) FILTER (WHERE status IN ('failed', 'timed_out')) AS failing, {tokens}
        FROM task_runs WHERE {terminal} AND ({where})
        GROUP BY 1, 2, 3, 4, 5
        """,
        f"""
        CREATE TEMPORARY TABLE rollup_backfill_errors ON COMMIT DROP AS
        SELECT DISTINCT ON (task_id, hour, error_type) task_id, hour, error_type,
            count(*) OVER (PARTITION BY task_id, hour, error_type) AS runs, id AS latest_run_id, finished AS latest_at
        FROM (
            SELECT task_id, id, {finished} AS finished, {hour} AS hour,
                left(COALESCE(error->>'type', 'Error'), 200) AS error_type
            FROM task_runs WHERE {terminal} AND status <> 'completed' AND error IS NOT NULL AND ({where})
        ) AS failed
        ORDER BY task_id, hour, error_type, finished DESC, id DESC
        """,
    ]
    for period in PERIODS:
        start = "hour" if period == "hour" else "date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
        staged = f"SELECT *, {start} AS start, 0 AS shard FROM rollup_backfill_runs"
        for table, keys, sums, which in _COUNT_TABLES:
            if table not in tables:
                continue
            key_list = ", ".join(keys)
            columns = ", ".join(sums)
            inner = ", ".join(f"sum({value}) AS {column}" for column, value in sums.items())
            outer = ", ".join(f"sum({column}) AS {column}" for column in sums)
            statements.append(
                f"""
                INSERT INTO {table} (period, {key_list}, runs, timed_runs, duration_ms_sum, duration_histogram,
                    {columns})
                SELECT '{period}', {key_list}, runs, timed_runs, duration_ms_sum,
                    ARRAY(SELECT COALESCE((buckets ->> i::text)::bigint, 0)
                          FROM generate_series(0, {HISTOGRAM_BUCKETS - 1}) AS i ORDER BY i),
                    {columns}
                FROM (
                    SELECT {key_list}, sum(runs) AS runs, sum(timed_runs) AS timed_runs,
                        sum(duration_ms_sum) AS duration_ms_sum,
                        jsonb_object_agg(bucket, timed_runs) FILTER (WHERE bucket IS NOT NULL) AS buckets,
                        {outer}
                    FROM (
                        SELECT {key_list}, bucket, sum(runs) AS runs, sum(timed_runs) AS timed_runs,
                            sum(duration_ms_sum) AS duration_ms_sum, {inner}
                        FROM ({staged}) AS run
                        WHERE {which}
                        GROUP BY {key_list}, bucket
                    ) AS per_bucket
                    GROUP BY {key_list}
                ) AS per_row
                """
            )
        staged_errors = f"SELECT *, {start} AS start, 0 AS shard FROM rollup_backfill_errors"
        for table, owner in _ERROR_TABLES:
            if table not in tables:
                continue
            statements.append(
                f"""
                INSERT INTO {table} (period, {owner}, start, error_type, runs, latest_run_id, latest_at)
                SELECT '{period}', {owner}, start, error_type, sum(runs),
                    (array_agg(latest_run_id ORDER BY latest_at DESC, latest_run_id DESC))[1], max(latest_at)
                FROM ({staged_errors}) AS failed
                GROUP BY {owner}, start, error_type
                """
            )
    statements.append("DROP TABLE rollup_backfill_runs, rollup_backfill_errors")
    return statements


# Reading: one task's statistics read task_run_rollups and task_run_error_rollups (by their
# unique key: period, task_id, start, ...); all runs' read run_rollups and run_error_rollups
# (period, start: at most SHARDS rows per period and combination); the ranking of tasks reads
# task_rollups (one row per task and period).


def _scope(table: str, task_id: uuid.UUID | None, all_tasks: bool) -> tuple[str, str, dict[str, Any]]:
    if all_tasks:
        return f"run_{table}", "", {}
    return f"task_run_{table}", " AND task_id = :task_id", {"task_id": task_id}


async def rollup_breakdown(
    session: AsyncSession, *, period: str, since: datetime, task_id: uuid.UUID | None = None, all_tasks: bool = False
) -> list[Any]:
    """Rows (start, status, trigger, runs, timed_runs, duration_ms_sum, prompt_tokens,
    completion_tokens, total_tokens) of the rollups since ``since``, for one task or all runs."""
    table, scope, params = _scope("rollups", task_id, all_tasks)
    statement = text(
        "SELECT start, status, trigger, sum(runs)::bigint AS runs, sum(timed_runs)::bigint AS timed_runs, "
        "sum(duration_ms_sum)::bigint AS duration_ms_sum, sum(llm_prompt_tokens)::bigint AS prompt_tokens, "
        "sum(llm_completion_tokens)::bigint AS completion_tokens, sum(llm_total_tokens)::bigint AS total_tokens "
        f"FROM {table} WHERE period = :period AND start >= :since{scope} "
        "GROUP BY start, status, trigger ORDER BY start"
    )
    return list((await session.execute(statement, {"period": period, "since": since, **params})).all())


_BUCKET_SUMS = ", ".join(f"sum(duration_histogram[{slot}])::bigint" for slot in range(1, HISTOGRAM_BUCKETS + 1))


def _histogram_sql(table: str, where: str, by_task: bool = False) -> str:
    # One sum per bucket: a single pass over the rows (cheaper than unnesting every array).
    owner = "task_id, " if by_task else ""
    group = " GROUP BY task_id" if by_task else ""
    return (
        f"SELECT {owner}{_BUCKET_SUMS} FROM {table} "
        f"WHERE period = :period AND start >= :since AND timed_runs > 0{where}{group}"
    )


def _counts(values) -> list[int]:
    return [int(value or 0) for value in values]


async def rollup_histogram(
    session: AsyncSession,
    *,
    period: str,
    since: datetime,
    task_id: uuid.UUID | None = None,
    all_tasks: bool = False,
) -> list[int]:
    """The duration histogram summed over the window, of one task or all runs."""
    table, scope, params = _scope("rollups", task_id, all_tasks)
    row = (await session.execute(text(_histogram_sql(table, scope)), {"period": period, "since": since, **params})).one()
    return _counts(row)


async def task_histograms(
    session: AsyncSession, *, period: str, since: datetime, task_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[int]]:
    """The duration histogram of each of ``task_ids`` over the window."""
    if not task_ids:
        return {}
    statement = text(_histogram_sql("task_rollups", " AND task_id = ANY(:task_ids)", by_task=True))
    histograms: dict[uuid.UUID, list[int]] = {task: [0] * HISTOGRAM_BUCKETS for task in task_ids}
    for row in await session.execute(statement, {"period": period, "since": since, "task_ids": task_ids}):
        histograms[row[0]] = _counts(row[1:])
    return histograms


async def ranked_tasks(session: AsyncSession, *, period: str, since: datetime, limit: int) -> list[Any]:
    """The saved tasks with the most failed or timed out runs over the window (``rank`` 'failing')
    and those with the highest mean duration ('slowest'), ``limit`` of each: rows (rank, task_id,
    runs, failed, timed_runs, duration_ms_sum, cy_name, name), each rank in its order; cy_name and
    name are NULL for a task deleted since."""
    statement = text(
        """
        WITH per_task AS (
            SELECT task_id, sum(runs)::bigint AS runs, sum(failed)::bigint AS failed,
                sum(timed_runs)::bigint AS timed_runs, sum(duration_ms_sum)::bigint AS duration_ms_sum
            FROM task_rollups WHERE period = :period AND start >= :since GROUP BY task_id
        ),
        failing AS (
            SELECT 'failing' AS rank, row_number() OVER (ORDER BY failed DESC, runs DESC, task_id) AS position, *
            FROM per_task WHERE failed > 0 ORDER BY failed DESC, runs DESC, task_id LIMIT :limit
        ),
        slowest AS (
            SELECT 'slowest' AS rank,
                row_number() OVER (ORDER BY duration_ms_sum::float8 / timed_runs DESC, task_id) AS position, *
            FROM per_task WHERE timed_runs > 0 ORDER BY duration_ms_sum::float8 / timed_runs DESC, task_id LIMIT :limit
        )
        SELECT ranked.rank, ranked.task_id, ranked.runs, ranked.failed, ranked.timed_runs, ranked.duration_ms_sum,
            tasks.cy_name, tasks.name
        FROM (SELECT * FROM failing UNION ALL SELECT * FROM slowest) AS ranked
        LEFT JOIN tasks ON tasks.id = ranked.task_id
        ORDER BY ranked.rank, ranked.position
        """
    )
    rows = await session.execute(statement, {"period": period, "since": since, "limit": limit})
    return list(rows.all())


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
    table, scope, params = _scope("error_rollups", task_id, all_tasks)
    statement = text(
        "SELECT error_type, sum(runs)::bigint AS runs, "
        "(array_agg(latest_run_id ORDER BY latest_at DESC))[1] AS latest_run_id "
        f"FROM {table} WHERE period = :period AND start >= :since{scope} "
        "GROUP BY error_type ORDER BY runs DESC, error_type LIMIT :limit"
    )
    rows = await session.execute(statement, {"period": period, "since": since, "limit": limit, **params})
    return list(rows.all())


async def active_run_counts(session: AsyncSession, *, task_id: uuid.UUID | None = None) -> dict[str, int]:
    """How many runs are pending, running and paused now (one task's, or all). Both read the
    status index (the task is a filter of the count, not of the scan: a task's index would walk
    every run the task ever had), with a generic plan: there is no time range to prune partitions
    with, and planning across ~100 partitions would cost more than counting."""
    counted = "count(*) FILTER (WHERE task_id = :task_id)" if task_id is not None else "count(*)"
    statement = text(
        f"SELECT status, {counted} FROM task_runs WHERE status IN ('pending', 'running', 'paused') GROUP BY status"
    )
    counts = {"pending": 0, "running": 0, "paused": 0}
    if task_id is None:  # no parameter: its prepared statement keeps one plan
        for status, count in await session.execute(statement):
            counts[status] = int(count)
        return counts
    previous = (
        await session.execute(
            text("SELECT current_setting('plan_cache_mode'), set_config('plan_cache_mode', 'force_generic_plan', true)")
        )
    ).one()[0]
    try:
        for status, count in await session.execute(statement, {"task_id": task_id}):
            counts[status] = int(count)
    finally:
        await session.execute(text("SELECT set_config('plan_cache_mode', :mode, true)"), {"mode": previous})
    return counts


async def delete_rollups_before(session: AsyncSession | AsyncConnection, cutoff: datetime) -> int:
    """Drop rollups of periods that start before ``cutoff`` (run retention)."""
    deleted = 0
    for table_name in ROLLUP_TABLES:
        result = await session.execute(text(f"DELETE FROM {table_name} WHERE start < :cutoff"), {"cutoff": cutoff})
        deleted += result.rowcount or 0
    return deleted


async def task_status_counts(
    session: AsyncSession, task_ids: list[uuid.UUID], *, period: str, since: datetime
) -> dict[uuid.UUID, dict[str, int]]:
    """Finished runs of each task by status since ``since`` (from the rollups)."""
    if not task_ids:
        return {}
    rows = await session.execute(
        text(
            "SELECT task_id, status, sum(runs) AS runs FROM task_run_rollups "
            "WHERE period = :period AND start >= :since AND task_id = ANY(:ids) GROUP BY task_id, status"
        ),
        {"period": period, "since": since, "ids": task_ids},
    )
    counts: dict[uuid.UUID, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row.task_id, {})[row.status] = int(row.runs)
    return counts
