"""Run history at scale: p50/p95 of `GET /v1/task-runs` per filter, and of one run by id.

Usage:
    python bench/history_at_scale.py [--runs 5000000] [--days 90] [--tasks 200] [--samples 60]
                                     [--data-dir DIR] [--driver asyncpg|psycopg] [--compare-plan-cache]
                                     [--plans FILE] [--json]

Starts its own embedded Postgres in a fresh directory (or reuses a database this script loaded
into --data-dir before, with the same --runs/--days/--tasks), migrates it, then loads the runs
over `--days` daily partitions ending today with one `INSERT ... SELECT generate_series` per
day. The API application is built as the tests build it and driven in-process through an
httpx ASGI client, so each figure includes authentication, the task lookup, the query and
the JSON response. No Temporal server is needed: listing and reading runs only read Postgres.
`--plans FILE` writes EXPLAIN (ANALYZE, BUFFERS) of the repository's query for each case.
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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_P95_MS = 50.0
API_KEY = "history-bench-" + uuid.uuid4().hex

_LOAD_DAY = """
INSERT INTO task_runs (id, created_at, task_id, task_version, cy_script, status, trigger,
    input_storage, input_inline, output_storage, output_inline, error, logs_count,
    started_at, completed_at, duration_ms, workflow_id, created_by)
SELECT
    (lpad(to_hex(ms), 12, '0') || '7' || substr(h, 1, 3)
        || substr('89ab', 1 + (ascii(substr(h, 4, 1)) % 4), 1) || substr(h, 5, 15))::uuid,
    at, CASE WHEN trig = 'adhoc' THEN NULL ELSE task END, CASE WHEN trig = 'adhoc' THEN NULL ELSE 1 END,
    CASE WHEN trig = 'adhoc' THEN 'return input' END, st, trig,
    'inline', jsonb_build_object('ip', '10.0.' || (g % 256) || '.' || (g % 251)),
    CASE WHEN st IN ('completed', 'failed', 'timed_out', 'cancelled') THEN 'inline' END,
    CASE WHEN st = 'completed' THEN jsonb_build_object('verdict', 'valid', 'score', g % 100) END,
    CASE WHEN st = 'failed' THEN jsonb_build_object('type', 'ToolError', 'message', 'upstream answered 503',
        'line', 3, 'column', 9) END,
    2, at + interval '20 milliseconds',
    CASE WHEN st IN ('completed', 'failed', 'timed_out', 'cancelled') THEN at + interval '250 milliseconds' END,
    CASE WHEN st IN ('completed', 'failed', 'timed_out', 'cancelled') THEN 230 END,
    'taskrun-' || g, 'api-key:bench'
FROM (
    SELECT g, ms, 'epoch'::timestamptz + ms * interval '1 millisecond' AS at, md5(g::text || ':' || ms) AS h,
        (:tasks)[1 + floor(cardinality(:tasks) * r1 * r1)::int] AS task,
        CASE WHEN :active AND r2 < 0.02 THEN (ARRAY['running', 'paused', 'pending'])[1 + floor(r2 * 150)::int % 3]
             WHEN r2 < 0.90 THEN 'completed' WHEN r2 < 0.96 THEN 'failed'
             WHEN r2 < 0.985 THEN 'timed_out' ELSE 'cancelled' END AS st,
        CASE WHEN r3 < 0.50 THEN 'api' WHEN r3 < 0.85 THEN 'schedule' WHEN r3 < 0.95 THEN 'workflow_node'
             WHEN r3 < 0.98 THEN 'adhoc' WHEN r3 < 0.995 THEN 'cli' ELSE 'ui' END AS trig
    FROM (
        SELECT g, (:day_ms + floor(random() * 86400000))::bigint AS ms, random() AS r1, random() AS r2, random() AS r3
        FROM generate_series(1, :per_day) AS g
    ) AS base
) AS row
"""


@dataclass
class Case:
    name: str
    paths: list[str]
    limit: int | None = None  # fewer samples for a case that runs into the listing time limit
    statuses: dict[int, int] = field(default_factory=dict)
    samples: list[float] = field(default_factory=list)

    def figures(self) -> dict:
        ordered = sorted(self.samples)
        p95 = statistics.quantiles(ordered, n=20)[-1] if len(ordered) > 1 else ordered[0]
        return {
            "p50_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(p95, 2),
            "statuses": self.statuses,
            "example": self.paths[0],
        }


def _marker(args: argparse.Namespace) -> dict:
    return {"runs": args.runs, "days": args.days, "tasks": args.tasks}


def load(database_url: str, runs: int, days: int, tasks: int, today: datetime) -> None:
    from sqlalchemy import text
    from sqlalchemy.pool import NullPool

    from persistence.db import create_sync_engine
    from persistence.partitions import ensure_partitions_sync

    engine = create_sync_engine(database_url, poolclass=NullPool)
    per_day = runs // days
    with engine.begin() as conn:
        ensure_partitions_sync(conn, days_ahead=7, days_back=days - 1, today=today.date())
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
    first_day = today.date() - timedelta(days=days - 1)
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        day_ms = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
        with engine.begin() as conn:
            # The rows are valid by construction: skip the per-row foreign key check while loading.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(
                text(_LOAD_DAY),
                {"tasks": task_ids, "day_ms": day_ms, "per_day": per_day, "active": offset == days - 1},
            )
        done = offset + 1
        if done % 10 == 0 or done == days:
            elapsed = time.monotonic() - started
            print(f"  loaded {done}/{days} days ({done * per_day:,} runs) in {elapsed:.0f}s", file=sys.stderr)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) task_runs"))
        conn.execute(text("ANALYZE tasks"))
    engine.dispose()


def build_cases(database_url: str, days: int, now: datetime, seed: int = 7) -> list[Case]:
    from sqlalchemy import text
    from sqlalchemy.pool import NullPool

    from persistence.db import create_sync_engine
    from persistence.repository.pagination import encode_cursor

    rng = random.Random(seed)
    engine = create_sync_engine(database_url, poolclass=NullPool)
    with engine.connect() as conn:
        ranked = list(
            conn.execute(
                text("SELECT id, cy_name FROM tasks WHERE cy_name LIKE 'bench_task_%' ORDER BY cy_name")
            ).all()
        )
        by_number = sorted(ranked, key=lambda row: int(row.cy_name.rsplit("_", 1)[1]))
        popular = [str(row.id) for row in by_number[:5]]
        middling = [str(row.id) for row in by_number[len(by_number) // 2: len(by_number) // 2 + 5]]
        rare = [str(row.cy_name) for row in by_number[-5:]]

        def positions(count: int, low_days: float, high_days: float, where: str = "") -> list[tuple]:
            found = []
            for _ in range(count):
                at = now - timedelta(days=rng.uniform(low_days, high_days))
                row = conn.execute(
                    text(
                        f"SELECT created_at, id, task_id FROM task_runs WHERE created_at <= :at {where} "
                        "ORDER BY created_at DESC, id DESC LIMIT 1"
                    ),
                    {"at": at},
                ).one()
                found.append(row)
            return found

        deep = [encode_cursor(row.created_at, row.id) for row in positions(10, days * 0.4, days * 0.95)]
        deep_failed = [
            (str(row.task_id), encode_cursor(row.created_at, row.id))
            for row in positions(10, days * 0.4, days * 0.95, "AND status = 'failed' AND task_id IS NOT NULL")
        ]
        ids = [str(row.id) for row in positions(40, 0, days - 0.5)]
    engine.dispose()

    def window(length_days: float) -> list[str]:
        out = []
        for _ in range(10):
            end = now - timedelta(days=rng.uniform(0, days - length_days))
            start = end - timedelta(days=length_days)
            out.append(f"created_after={start.isoformat()}&created_before={end.isoformat()}".replace("+", "%2B"))
        return out

    base = "/v1/task-runs?limit=50"
    cases = [
        Case("none", [base]),
        Case("task (popular)", [f"{base}&task={t}" for t in popular]),
        Case("task (middling)", [f"{base}&task={t}" for t in middling]),
        Case("task (rare, by cy_name)", [f"{base}&task={t}" for t in rare]),
        Case("status=failed", [f"{base}&status=failed"]),
        Case("status=cancelled", [f"{base}&status=cancelled"]),
        Case("status=running", [f"{base}&status=running"]),
        Case("trigger=schedule", [f"{base}&trigger=schedule"]),
        Case("trigger=ui", [f"{base}&trigger=ui"]),
        Case("time range (1 day)", [f"{base}&{w}" for w in window(1)]),
        Case("time range (1 hour)", [f"{base}&{w}" for w in window(1 / 24)]),
        Case("task + status=failed", [f"{base}&task={t}&status=failed" for t in popular + middling]),
        Case("task (rare) + status=timed_out", [f"{base}&task={t}&status=timed_out" for t in rare]),
        Case("task + trigger=schedule", [f"{base}&task={t}&trigger=schedule" for t in popular + middling]),
        Case("task + trigger=adhoc (no match)", [f"{base}&task={t}&trigger=adhoc" for t in popular]),
        Case("task + status + trigger=adhoc (no match)",
             [f"{base}&task={popular[0]}&status=completed&trigger=adhoc"], limit=20),
        Case("status=failed + trigger=api", [f"{base}&status=failed&trigger=api"]),
        Case("status=cancelled + trigger=ui", [f"{base}&status=cancelled&trigger=ui"]),
        Case("task + status + trigger", [f"{base}&task={t}&status=failed&trigger=api" for t in popular + middling]),
        Case("task + status + 7-day range", [f"{base}&task={t}&status=failed&{w}" for t, w in zip(popular + middling, window(7))]),
        Case("deep cursor", [f"{base}&cursor={c}" for c in deep]),
        Case("deep cursor + task + status", [f"{base}&task={t}&status=failed&cursor={c}" for t, c in deep_failed]),
        Case("one run by id", [f"/v1/task-runs/{i}" for i in ids]),
    ]
    return cases


async def measure(settings, cases: list[Case], samples: int, modes: list[str]) -> dict[str, list[Case]]:
    """`samples` requests per case and plan cache mode, interleaved: every round goes through
    every case once in each mode, so a burst of load on the machine touches all figures alike."""
    import os

    import httpx

    from api.main import create_app
    from settings import get_settings

    def use_mode(mode: str) -> None:
        os.environ["CYTASKS_RUN_LIST_PLAN_CACHE_MODE"] = mode
        get_settings.cache_clear()

    by_mode = {mode: [Case(case.name, case.paths, case.limit) for case in cases] for mode in modes}
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://cytasks.bench", headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=60,
        ) as client:
            for mode in modes:  # warm-up: statements prepared on every pooled connection, pages cached
                use_mode(mode)
                for case in cases:
                    for path in case.paths * (2 if case.limit is None else 1):
                        await client.get(path)
            for index in range(samples):
                for position in range(len(cases)):
                    for mode in modes:
                        use_mode(mode)
                        case = by_mode[mode][position]
                        if case.limit is not None and len(case.samples) >= case.limit:
                            continue
                        path = case.paths[index % len(case.paths)]
                        started = time.perf_counter()
                        response = await client.get(path)
                        case.samples.append((time.perf_counter() - started) * 1000)
                        case.statuses[response.status_code] = case.statuses.get(response.status_code, 0) + 1
    os.environ.pop("CYTASKS_RUN_LIST_PLAN_CACHE_MODE", None)
    get_settings.cache_clear()
    return by_mode


async def explain(database_url: str, cases: list[Case], out: Path) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the statement the repository runs for each case's first path."""
    from urllib.parse import parse_qs, urlsplit

    from sqlalchemy import event

    from persistence import repository as repo
    from persistence.db import get_engine, get_sessionmaker

    engine = get_engine(database_url, driver="psycopg")
    captured: list[tuple[str, dict]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM task_runs" in statement:
            captured.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    lines = []
    for case in cases:
        parts = urlsplit(case.paths[0])
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        captured.clear()
        async with get_sessionmaker(database_url, driver="psycopg")() as session:
            if parts.path.startswith("/v1/task-runs/"):
                await repo.get_run(session, parts.path.rsplit("/", 1)[1])
            else:
                task = query.get("task")
                task_id = None
                if task:
                    found = await repo.get_task(session, task)
                    task_id = found.id
                await repo.list_runs(
                    session,
                    task_id=task_id,
                    status=query.get("status"),
                    trigger=query.get("trigger"),
                    created_after=datetime.fromisoformat(query["created_after"]) if "created_after" in query else None,
                    created_before=datetime.fromisoformat(query["created_before"]) if "created_before" in query else None,
                    cursor=query.get("cursor"),
                    limit=int(query.get("limit", 50)),
                    timeout_ms=0,
                )
        statement, parameters = captured[-1]
        async with engine.connect() as conn:
            result = await conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            plan = [row[0] for row in result]
        lines += [f"## {case.name}", "", "```", *plan, "```", ""]
    event.remove(engine.sync_engine, "before_cursor_execute", capture)
    out.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--samples", type=int, default=60, help="timed requests per case")
    parser.add_argument("--data-dir", type=Path, help="keep the loaded database here and reuse it")
    parser.add_argument("--driver", choices=("asyncpg", "psycopg"), default="asyncpg")
    parser.add_argument("--plans", type=Path, help="write EXPLAIN (ANALYZE, BUFFERS) per case to this file")
    parser.add_argument("--compare-plan-cache", action="store_true",
                        help="also measure with plan_cache_mode=auto, interleaved with the default")
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
        temporary = tempfile.TemporaryDirectory(dir="/tmp", prefix="cytasks-history-")
        data_dir = Path(temporary.name)
    else:
        data_dir = args.data_dir.expanduser().resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
    marker = data_dir / "loaded.json"
    postgres = EmbeddedPostgres(data_dir / "postgres")
    await postgres.start_async()
    try:
        url = postgres.database_url
        now = datetime.now(UTC)
        upgrade(url)
        if not marker.exists() or json.loads(marker.read_text()) != _marker(args):
            if marker.exists():
                raise SystemExit(f"{data_dir} holds another load ({marker.read_text()}); use a fresh --data-dir")
            print(f"loading {args.runs:,} runs over {args.days} days into {data_dir}", file=sys.stderr)
            started = time.monotonic()
            await asyncio.to_thread(load, url, args.runs, args.days, args.tasks, now)
            print(f"  load and VACUUM ANALYZE took {time.monotonic() - started:.0f}s", file=sys.stderr)
            marker.write_text(json.dumps(_marker(args)))
        size, partitions = await asyncio.to_thread(_size_and_partitions, url)
        print(f"task_runs: {size}, {partitions} partitions; driver {args.driver}", file=sys.stderr)
        cases = await asyncio.to_thread(build_cases, url, args.days, now)
        settings = Settings(
            DATA_DIR=data_dir,
            DATABASE_URL=database_url_for(url, args.driver).render_as_string(hide_password=False),
            DATABASE_DRIVER=args.driver,
            TEMPORAL_ADDRESS="127.0.0.1:1",
            API_KEY=API_KEY,
        )
        modes = ["force_generic_plan", "auto"] if args.compare_plan_cache else [settings.RUN_LIST_PLAN_CACHE_MODE]
        by_mode = await measure(settings, cases, args.samples, modes)
        if args.plans:
            await explain(url, cases, args.plans)
        await dispose_engines()
        results = {mode: {case.name: case.figures() for case in measured} for mode, measured in by_mode.items()}
        worst = max(results[modes[0]].values(), key=lambda figures: figures["p95_ms"])
        summary = {
            "runs": args.runs, "days": args.days, "tasks": args.tasks, "partitions": partitions,
            "size": size, "driver": args.driver, "target_p95_ms": TARGET_P95_MS,
            "worst_p95_ms": worst["p95_ms"], "cases": results[modes[0]],
        }
        if len(modes) > 1:
            summary["cases_by_plan_cache_mode"] = results
        if args.json:
            print(json.dumps(summary, indent=2))
            return
        header = "".join(f" {mode[:18]:>18} p50 / p95" for mode in modes)
        print(f"{'case':42}{header}   (ms)")
        for name in results[modes[0]]:
            cells = "".join(
                f" {results[mode][name]['p50_ms']:18.2f} / {results[mode][name]['p95_ms']:5.1f}" for mode in modes
            )
            flag = "" if results[modes[0]][name]["p95_ms"] < TARGET_P95_MS else "  over target"
            print(f"{name:42}{cells}{flag}")
        print(f"worst p95 {worst['p95_ms']:.2f} ms with {modes[0]} (target < {TARGET_P95_MS:.0f} ms); "
              f"{size}, {partitions} partitions, driver {args.driver}")
    finally:
        await postgres.stop_async()
        if temporary is not None:
            temporary.cleanup()


def _size_and_partitions(url: str) -> tuple[str, int]:
    from sqlalchemy import text
    from sqlalchemy.pool import NullPool

    from persistence.db import create_sync_engine

    engine = create_sync_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        size = conn.scalar(
            text(
                "SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) FROM pg_inherits "
                "WHERE inhparent = 'task_runs'::regclass"
            )
        )
        partitions = conn.scalar(text("SELECT count(*) FROM pg_inherits WHERE inhparent = 'task_runs'::regclass"))
    engine.dispose()
    return size, partitions


if __name__ == "__main__":
    main()
