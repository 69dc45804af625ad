"""Database cost of one run's bookkeeping: create, mark running, finish with logs, read back.

Usage: python bench/run_bookkeeping.py [--runs 30] [--rounds 3] [--driver asyncpg|psycopg|both] [--json]
(starts its own embedded Postgres). For each driver of the async engine it prints the median
milliseconds of the four transactions together (three of them commit, so the WAL flush weighs
in), of one ``get_run`` read alone, and of a bare ``SELECT 1`` round trip as the baseline
measured in the same run. With both drivers the rounds alternate between them, and
each figure is the median over all rounds' samples.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DRIVERS = ("asyncpg", "psycopg")


async def measure(runs: int, rounds: int, drivers: tuple[str, ...]) -> dict[str, dict[str, float]]:
    from devstack.postgres import EmbeddedPostgres
    from persistence import repository as repo
    from persistence.db import dispose_engines, get_sessionmaker
    from persistence.migrate import upgrade

    with tempfile.TemporaryDirectory(dir="/tmp") as data_dir:
        postgres = EmbeddedPostgres(Path(data_dir) / "postgres")
        await postgres.start_async()
        try:
            upgrade(postgres.database_url)
            makers = {driver: get_sessionmaker(postgres.database_url, driver=driver) for driver in drivers}
            async with makers[drivers[0]]() as session, session.begin():
                task = await repo.create_task(session, name="bookkeeping bench", script="return input")

            async def one_run(maker) -> None:
                async with maker() as session, session.begin():
                    run = await repo.create_run(
                        session, trigger="api", task_id=task.id, task_version=1, input_inline={"x": 1}
                    )
                async with maker() as session, session.begin():
                    await repo.mark_run_running(session, run.id)
                async with maker() as session, session.begin():
                    await repo.finish_run(
                        session, run.id, status="completed", output_storage="inline",
                        output_inline={"y": 2}, logs=["a", "b"],
                    )
                async with maker() as session:
                    await repo.get_run(session, run.id)

            async with makers[drivers[0]]() as session, session.begin():
                sample = await repo.create_run(session, trigger="api", task_id=task.id, task_version=1)

            async def read_run(maker) -> None:
                async with maker() as session:
                    await repo.get_run(session, sample.id)

            async def select_one(maker) -> None:
                async with maker() as session:
                    await session.execute(text("SELECT 1"))

            async def samples_ms(action, maker) -> list[float]:
                for _ in range(5):
                    await action(maker)
                samples = []
                for _ in range(runs):
                    started = time.perf_counter()
                    await action(maker)
                    samples.append((time.perf_counter() - started) * 1000)
                return samples

            collected = {driver: {"bookkeeping": [], "read_run": [], "select_1": []} for driver in drivers}
            for _ in range(rounds):
                for driver in drivers:
                    collected[driver]["bookkeeping"] += await samples_ms(one_run, makers[driver])
                    collected[driver]["read_run"] += await samples_ms(read_run, makers[driver])
                    collected[driver]["select_1"] += await samples_ms(select_one, makers[driver])
            await dispose_engines()
            return {
                driver: {name: statistics.median(values) for name, values in figures.items()}
                for driver, figures in collected.items()
            }
        finally:
            await postgres.stop_async()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="samples per round and driver")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--driver", choices=(*DRIVERS, "both"), default="both")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    drivers = DRIVERS if args.driver == "both" else (args.driver,)
    results = asyncio.run(measure(args.runs, args.rounds, drivers))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for driver, figures in results.items():
        bookkeeping, round_trip = figures["bookkeeping"], figures["select_1"]
        print(f"{driver:8} run bookkeeping median {bookkeeping:.2f} ms; one get_run {figures['read_run']:.2f} ms; "
              f"SELECT 1 round trip {round_trip:.2f} ms (bookkeeping / SELECT 1: {bookkeeping / round_trip:.1f})")
    if len(results) == 2:
        for name in ("bookkeeping", "read_run", "select_1"):
            ratio = results["asyncpg"][name] / results["psycopg"][name]
            print(f"asyncpg / psycopg {name}: {ratio:.2f}")


if __name__ == "__main__":
    main()
