"""Schedule fire latency: many interval schedules on one worker.

Starts the embedded stack (PostgreSQL + Temporal dev server), one worker and the API in this
process, creates ``--schedules`` tasks each with an ``--interval`` schedule (through the HTTP
API), lets them fire for ``--duration`` seconds, removes the schedules, and reports the delay
between each action's scheduled time and its run's start (``started_at``): median, p90, p99, max.
It also reports the delay until the run row was recorded and how many fires were expected.

    python bench/schedules.py                      # 200 schedules, every 30s, for two minutes
    python bench/schedules.py --duration 20        # a quick check
    python bench/schedules.py --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "median_s": round(statistics.median(values), 4) if values else float("nan"),
        "p90_s": round(percentile(values, 0.90), 4),
        "p99_s": round(percentile(values, 0.99), 4),
        "max_s": round(max(values), 4) if values else float("nan"),
    }


async def measure(schedules: int, interval: str, duration: float, spread: bool) -> dict:
    import httpx

    import worker
    from activities.runs import RunActivities
    from api.main import create_app
    from devstack import DevStack
    from persistence.db import dispose_engines, get_sessionmaker
    from persistence.models import TaskRun
    from schedules import parse_duration
    from schedules.temporal import schedule_id_for
    from settings import Settings
    from sqlalchemy import select

    every = parse_duration(interval, "interval")
    with tempfile.TemporaryDirectory(prefix="cytasks-bench-") as data_dir:
        stack = DevStack(Path(data_dir), headless=True, migrate=True)
        await stack.start()
        try:
            settings = Settings(
                DATA_DIR=Path(data_dir),
                DATABASE_URL=stack.database_url,
                TEMPORAL_ADDRESS=stack.temporal_address,
                TEMPORAL_NAMESPACE=stack.namespace,
                TASK_QUEUE="bench-schedules",
                BLOB_DIR=Path(data_dir) / "blobs",
                API_KEY="bench-" + uuid.uuid4().hex,
                DATABASE_POOL_SIZE=20,
                DATABASE_MAX_OVERFLOW=20,
            )
            client = await worker.connect(settings)
            activities = await RunActivities.create(settings)
            app = create_app(settings)
            async with worker.build_worker(client, settings, activities), app.router.lifespan_context(app):
                api = httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url="http://bench",
                    headers={"Authorization": f"Bearer {settings.API_KEY}"},
                    timeout=60,
                )
                limit = asyncio.Semaphore(4)

                async def create(index: int) -> str:
                    async with limit:
                        response = await api.post(
                            "/v1/tasks", json={"name": f"bench schedule {index}", "script": "return input.i"}
                        )
                        response.raise_for_status()
                        task_id = response.json()["id"]
                        body = {"interval": interval, "input": {"i": index}}
                        if spread:
                            body["offset"] = f"{int(index * every.total_seconds() * 1000 / schedules)}ms"
                        for _attempt in range(5):
                            put = await api.put(f"/v1/tasks/{task_id}/schedule", json=body)
                            if put.status_code != 503:
                                break
                            await asyncio.sleep(1)
                        if put.status_code != 200:
                            raise RuntimeError(f"setting the schedule failed: {put.text}")
                        return task_id

                began = time.monotonic()
                task_ids = await asyncio.gather(*(create(i) for i in range(schedules)))
                setup_seconds = time.monotonic() - began
                window_start = datetime.now(UTC)
                await asyncio.sleep(duration)
                window_end = datetime.now(UTC)

                scheduler_delays: list[float] = []

                async def scheduler_delay(task_id: str) -> None:
                    async with limit:
                        described = await client.get_schedule_handle(schedule_id_for(task_id)).describe()
                    for action in described.info.recent_actions:
                        if window_start <= action.scheduled_at <= window_end:
                            scheduler_delays.append((action.started_at - action.scheduled_at).total_seconds())

                await asyncio.gather(*(scheduler_delay(task_id) for task_id in task_ids))

                async def remove(task_id: str) -> None:
                    async with limit:
                        await api.delete(f"/v1/tasks/{task_id}/schedule")

                await asyncio.gather(*(remove(task_id) for task_id in task_ids))
                await asyncio.sleep(3)  # let the last runs finish
                await api.aclose()

                sessions = get_sessionmaker(settings.DATABASE_URL)
                async with sessions() as session:
                    rows = (
                        await session.execute(
                            select(TaskRun.scheduled_time, TaskRun.started_at, TaskRun.created_at, TaskRun.status).where(
                                TaskRun.trigger == "schedule",
                                TaskRun.scheduled_time >= window_start,
                                TaskRun.scheduled_time <= window_end,
                            )
                        )
                    ).all()
            await activities.close()
        finally:
            await dispose_engines()
            await stack.stop()

    start_delays = [(row.started_at - row.scheduled_time).total_seconds() for row in rows if row.started_at]
    record_delays = [(row.created_at - row.scheduled_time).total_seconds() for row in rows]
    expected = int(schedules * (window_end - window_start).total_seconds() / every.total_seconds())
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row.status] = statuses.get(row.status, 0) + 1
    return {
        "schedules": schedules,
        "interval": interval,
        "spread_offsets": spread,
        "duration_s": duration,
        "setup_s": round(setup_seconds, 2),
        "expected_fires": expected,
        "runs": len(rows),
        "statuses": statuses,
        "start_delay": summary(start_delays),
        "record_delay": summary(record_delays),
        "scheduler_delay": summary(scheduler_delays),
        "target_p99_s": 2.0,
        "meets_target": bool(start_delays) and percentile(start_delays, 0.99) < 2.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schedules", type=int, default=200)
    parser.add_argument("--interval", default="30s", help="Interval of every schedule (default 30s)")
    parser.add_argument("--duration", type=float, default=120.0, help="Seconds to let them fire (default 120)")
    parser.add_argument(
        "--together",
        action="store_true",
        help="Fire all schedules at the same instant (default: offsets spread evenly over the interval)",
    )
    parser.add_argument("--json", action="store_true", help="Print the result as JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = asyncio.run(measure(args.schedules, args.interval, args.duration, not args.together))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    start, record = result["start_delay"], result["record_delay"]
    print(
        f"{result['schedules']} schedules every {result['interval']} for {result['duration_s']:g}s "
        f"({'spread' if result['spread_offsets'] else 'firing together'}); setup {result['setup_s']}s"
    )
    print(f"runs: {result['runs']} (about {result['expected_fires']} fires expected) {result['statuses']}")
    print(
        f"scheduled time -> run started:  median {start['median_s'] * 1000:.0f} ms, p90 {start['p90_s'] * 1000:.0f} ms, "
        f"p99 {start['p99_s'] * 1000:.0f} ms, max {start['max_s'] * 1000:.0f} ms"
    )
    print(
        f"scheduled time -> run recorded: median {record['median_s'] * 1000:.0f} ms, p99 {record['p99_s'] * 1000:.0f} ms"
    )
    sched = result["scheduler_delay"]
    print(
        f"scheduled time -> workflow started by Temporal's scheduler (last 10 actions per schedule): "
        f"median {sched['median_s'] * 1000:.0f} ms, p99 {sched['p99_s'] * 1000:.0f} ms"
    )
    print(f"target p99 < 2 s: {'met' if result['meets_target'] else 'NOT met'}")


if __name__ == "__main__":
    main()
