"""Run statistics at scale: p50/p95 of `GET /v1/stats` and `GET /v1/tasks/{id}/stats` per window
with millions of runs and their rollups loaded.

Usage:
    python bench/stats_at_scale.py [--runs 5000000] [--days 90] [--tasks 200] [--samples 60]
                                   [--data-dir DIR] [--driver asyncpg|psycopg] [--json]

Starts its own embedded Postgres in a fresh directory (or reuses a database this script loaded
into --data-dir before, with the same --runs/--days/--tasks), migrates it, loads the runs over
`--days` daily partitions ending now with one `INSERT ... SELECT generate_series` per day, then
builds their rollups with the statements migration 0009 backfills them with (timed: what the
migration costs on such a history). Durations are log-uniform between 20 ms and 2 minutes,
failed runs carry one of four error types, one run in five has LLM tokens. The API app is driven
in-process through an httpx ASGI client, as the tests drive it, so each figure includes
authentication, the task lookup, the queries and the JSON response. No Temporal server is needed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_P95_MS = 50.0
API_KEY = "stats-bench-" + uuid.uuid4().hex

_LOAD_DAY = """
INSERT INTO task_runs (id, created_at, task_id, task_version, cy_script, status, trigger,
    input_storage, input_inline, output_storage, output_inline, error, logs_count, llm_usage,
    started_at, completed_at, duration_ms, workflow_id, created_by)
SELECT
    (lpad(to_hex(ms), 12, '0') || '7' || substr(h, 1, 3)
        || substr('89ab', 1 + (ascii(substr(h, 4, 1)) % 4), 1) || substr(h, 5, 15))::uuid,
    at, CASE WHEN trig = 'adhoc' THEN NULL ELSE task END, CASE WHEN trig = 'adhoc' THEN NULL ELSE 1 END,
    CASE WHEN trig = 'adhoc' THEN 'return input' END, st, trig,
    'inline', jsonb_build_object('n', g),
    CASE WHEN terminal THEN 'inline' END,
    CASE WHEN st = 'completed' THEN jsonb_build_object('score', g % 100) END,
    CASE WHEN st = 'failed' THEN jsonb_build_object('type',
            (ARRAY['ToolError', 'ScriptError', 'HttpError', 'OutputSchemaViolation'])[1 + (g % 4)],
            'message', 'bench failure')
         WHEN st = 'timed_out' THEN jsonb_build_object('type', 'TaskTimeout', 'message', 'too slow')
         WHEN st = 'cancelled' THEN jsonb_build_object('type', 'Cancelled', 'message', 'cancelled') END,
    1,
    CASE WHEN r4 < 0.2 AND terminal THEN jsonb_build_object('prompt_tokens', 300 + g % 200,
        'completion_tokens', 80 + g % 50, 'total_tokens', 380 + g % 200 + g % 50) END,
    at + interval '10 milliseconds',
    CASE WHEN terminal THEN at + interval '10 milliseconds' + duration * interval '1 millisecond' END,
    CASE WHEN terminal THEN duration END,
    'taskrun-' || g, 'api-key:bench'
FROM (
    SELECT *, st IN ('completed', 'failed', 'timed_out', 'cancelled') AS terminal
    FROM (
        SELECT g, ms, 'epoch'::timestamptz + ms * interval '1 millisecond' AS at, md5(g::text || ':' || ms) AS h,
            (:tasks)[1 + floor(cardinality(:tasks) * r1 * r1)::int] AS task,
            CASE WHEN :active AND r2 < 0.02 THEN (ARRAY['running', 'paused', 'pending'])[1 + floor(r2 * 150)::int % 3]
                 WHEN r2 < 0.90 THEN 'completed' WHEN r2 < 0.96 THEN 'failed'
                 WHEN r2 < 0.985 THEN 'timed_out' ELSE 'cancelled' END AS st,
            CASE WHEN r3 < 0.50 THEN 'api' WHEN r3 < 0.85 THEN 'schedule' WHEN r3 < 0.95 THEN 'workflow_node'
                 WHEN r3 < 0.98 THEN 'adhoc' WHEN r3 < 0.995 THEN 'cli' ELSE 'ui' END AS trig,
            floor(20 * exp(r5 * ln(6000)))::bigint AS duration, r4
        FROM (
            SELECT g, (:day_ms + floor(random() * :span_ms))::bigint AS ms, random() AS r1, random() AS r2,
                random() AS r3, random() AS r4, random() AS r5
            FROM generate_series(1, :per_day) AS g
        ) AS base
    ) AS drawn
) AS row
"""


def _marker(args: argparse.Namespace) -> dict:
    return {"runs": args.runs, "days": args.days, "tasks": args.tasks, "bench": "stats"}


def load(database_url: str, runs: int, days: int, tasks: int, now: datetime) -> float:
    """Load the runs and build their rollups; answers how long building the rollups took (s)."""
    from sqlalchemy import text
    from sqlalchemy.pool import NullPool

    from persistence.db import create_sync_engine
    from persistence.partitions import ensure_partitions_sync
    from persistence.repository.rollups import backfill_sql

    engine = create_sync_engine(database_url, poolclass=NullPool)
    per_day = runs // days
    with engine.begin() as conn:
        ensure_partitions_sync(conn, days_ahead=7, days_back=days - 1, today=now.date())
        task_ids = list(
            conn.execute(
                text(
                    "INSERT INTO tasks (id, cy_name, name, script) "
                    "SELECT gen_random_uuid(), 'bench_task_' || g, 'Bench task ' || g, 'return input' "
                    "FROM generate_series(1, :n) AS g RETURNING id"
                ),
                {"n": tasks},
            ).scalars()
        )
        conn.execute(
            text(
                "INSERT INTO task_versions (task_id, version, script) SELECT id, 1, script FROM tasks "
                "WHERE cy_name LIKE 'bench_task_%'"
            )
        )
    started = time.monotonic()
    today = now.date()
    for offset in range(days):
        day = today - timedelta(days=days - 1 - offset)
        day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        # The last day ends now, so that the 24 hour window holds a full day of runs.
        span_ms = int(((now if offset == days - 1 else day_start + timedelta(days=1)) - day_start).total_seconds() * 1000)
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(
                text(_LOAD_DAY),
                {
                    "tasks": task_ids,
                    "day_ms": int(day_start.timestamp() * 1000),
                    "span_ms": max(span_ms, 1),
                    "per_day": per_day,
                    "active": offset == days - 1,
                },
            )
        done = offset + 1
        if done % 10 == 0 or done == days:
            print(f"  loaded {done}/{days} days ({done * per_day:,} runs) in {time.monotonic() - started:.0f}s",
                  file=sys.stderr)
    started = time.monotonic()
    with engine.begin() as conn:
        for statement in backfill_sql():
            conn.execute(text(statement))
    backfill_seconds = time.monotonic() - started
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("task_runs", "task_run_rollups", "task_run_error_rollups", "tasks"):
            conn.execute(text(f"VACUUM (ANALYZE) {table}"))
    engine.dispose()
    return backfill_seconds


def build_paths(database_url: str, seed: int = 7) -> dict[str, list[str]]:
    from sqlalchemy import text
    from sqlalchemy.pool import NullPool

    from persistence.db import create_sync_engine

    rng = random.Random(seed)
    engine = create_sync_engine(database_url, poolclass=NullPool)
    with engine.connect() as conn:
        names = list(conn.execute(text("SELECT cy_name FROM tasks WHERE cy_name LIKE 'bench_task_%'")).scalars())
    engine.dispose()
    by_number = sorted(names, key=lambda name: int(name.rsplit("_", 1)[1]))
    busy, rest = by_number[:5], by_number[5:]
    picked = busy + rng.sample(rest, min(10, len(rest)))
    paths: dict[str, list[str]] = {}
    for window in ("24h", "7d", "30d"):
        paths[f"all tasks, {window}"] = [f"/v1/stats?window={window}"]
        paths[f"busy task, {window}"] = [f"/v1/tasks/{name}/stats?window={window}" for name in busy]
        paths[f"any task, {window}"] = [f"/v1/tasks/{name}/stats?window={window}" for name in picked]
    return paths


async def measure(settings, paths: dict[str, list[str]], samples: int) -> dict[str, dict]:
    import httpx

    from api.main import create_app

    timings: dict[str, list[float]] = {name: [] for name in paths}
    statuses: dict[str, dict[int, int]] = {name: {} for name in paths}
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://cytasks.bench", headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=60,
        ) as client:
            for case in paths.values():  # warm-up
                for path in case * 2:
                    await client.get(path)
            for index in range(samples):
                for name, case in paths.items():
                    path = case[index % len(case)]
                    started = time.perf_counter()
                    response = await client.get(path)
                    timings[name].append((time.perf_counter() - started) * 1000)
                    statuses[name][response.status_code] = statuses[name].get(response.status_code, 0) + 1
    results = {}
    for name, samples_ms in timings.items():
        ordered = sorted(samples_ms)
        p95 = statistics.quantiles(ordered, n=20)[-1] if len(ordered) > 1 else ordered[0]
        results[name] = {
            "p50_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(p95, 2),
            "statuses": statuses[name],
            "example": paths[name][0],
        }
    return results


def _sizes(url: str) -> dict:
    from sqlalchemy import text
    from sqlalchemy.pool import NullPool

    from persistence.db import create_sync_engine

    engine = create_sync_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        figures = {
            "task_runs": conn.scalar(text("SELECT count(*) FROM task_runs")),
            "rollup_rows": dict(
                conn.execute(text("SELECT period, count(*) FROM task_run_rollups GROUP BY period")).all()
            ),
            "error_rollup_rows": conn.scalar(text("SELECT count(*) FROM task_run_error_rollups")),
            "rollups_size": conn.scalar(
                text("SELECT pg_size_pretty(pg_total_relation_size('task_run_rollups')"
                     " + pg_total_relation_size('task_run_error_rollups'))")
            ),
        }
    engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--samples", type=int, default=60, help="timed requests per case")
    parser.add_argument("--data-dir", type=Path, help="keep the loaded database here and reuse it")
    parser.add_argument("--driver", choices=("asyncpg", "psycopg"), default="asyncpg")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(run(args))


async def run(args: argparse.Namespace) -> None:
    from devstack.postgres import EmbeddedPostgres
    from persistence.db import database_url_for, dispose_engines
    from persistence.migrate import upgrade
    from settings import Settings

    temporary = None
    if args.data_dir is None:
        temporary = tempfile.TemporaryDirectory(dir="/tmp", prefix="cytasks-stats-")
        data_dir = Path(temporary.name)
    else:
        data_dir = args.data_dir.expanduser().resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
    marker = data_dir / "loaded.json"
    postgres = EmbeddedPostgres(data_dir / "postgres")
    await postgres.start_async()
    try:
        url = postgres.database_url
        upgrade(url)
        backfill_seconds = None
        if not marker.exists() or json.loads(marker.read_text()) != _marker(args):
            if marker.exists():
                raise SystemExit(f"{data_dir} holds another load ({marker.read_text()}); use a fresh --data-dir")
            print(f"loading {args.runs:,} runs over {args.days} days into {data_dir}", file=sys.stderr)
            started = time.monotonic()
            backfill_seconds = await asyncio.to_thread(load, url, args.runs, args.days, args.tasks, datetime.now(UTC))
            print(f"  load, rollups ({backfill_seconds:.0f}s) and VACUUM ANALYZE took "
                  f"{time.monotonic() - started:.0f}s", file=sys.stderr)
            marker.write_text(json.dumps(_marker(args)))
        sizes = await asyncio.to_thread(_sizes, url)
        paths = await asyncio.to_thread(build_paths, url)
        settings = Settings(
            DATA_DIR=data_dir,
            DATABASE_URL=database_url_for(url, args.driver).render_as_string(hide_password=False),
            DATABASE_DRIVER=args.driver,
            TEMPORAL_ADDRESS="127.0.0.1:1",
            API_KEY=API_KEY,
        )
        results = await measure(settings, paths, args.samples)
        await dispose_engines()
        worst = max(results.values(), key=lambda figures: figures["p95_ms"])
        summary = {
            "runs": args.runs, "days": args.days, "tasks": args.tasks, "driver": args.driver,
            "backfill_seconds": None if backfill_seconds is None else round(backfill_seconds, 1),
            **sizes, "target_p95_ms": TARGET_P95_MS, "worst_p95_ms": worst["p95_ms"], "cases": results,
        }
        if args.json:
            print(json.dumps(summary, indent=2, default=str))
            return
        print(f"{'case':28} {'p50':>8} / {'p95':>6}   (ms)")
        for name, figures in results.items():
            flag = "" if figures["p95_ms"] < TARGET_P95_MS else "  over target"
            bad = {status: count for status, count in figures["statuses"].items() if status != 200}
            print(f"{name:28} {figures['p50_ms']:8.2f} / {figures['p95_ms']:6.1f}{flag}{'  ' + str(bad) if bad else ''}")
        print(f"worst p95 {worst['p95_ms']:.2f} ms (target < {TARGET_P95_MS:.0f} ms); {sizes['task_runs']:,} runs, "
              f"rollup rows {sizes['rollup_rows']}, {sizes['error_rollup_rows']:,} error rollup rows "
              f"({sizes['rollups_size']}), driver {args.driver}")
    finally:
        await postgres.stop_async()
        if temporary is not None:
            temporary.cleanup()


if __name__ == "__main__":
    main()
