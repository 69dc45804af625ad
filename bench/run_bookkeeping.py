"""Database cost of one run's bookkeeping: create, mark running, finish with logs, read back.

Usage: python bench/run_bookkeeping.py [--runs 30]   (starts its own embedded Postgres)
Prints the median milliseconds of the four transactions together, and of a bare
``SELECT 1`` round trip as the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


async def measure(runs: int) -> tuple[float, float]:
    from devstack.postgres import EmbeddedPostgres
    from persistence import repository as repo
    from persistence.db import dispose_engines, get_sessionmaker
    from persistence.migrate import upgrade

    with tempfile.TemporaryDirectory(dir="/tmp") as data_dir:
        postgres = EmbeddedPostgres(Path(data_dir) / "postgres")
        await postgres.start_async()
        try:
            upgrade(postgres.database_url)
            maker = get_sessionmaker(postgres.database_url)
            async with maker() as session, session.begin():
                task = await repo.create_task(session, name="bookkeeping bench", script="return input")

            async def one_run() -> None:
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

            async def select_one() -> None:
                async with maker() as session:
                    await session.execute(text("SELECT 1"))

            async def median_ms(action) -> float:
                for _ in range(5):
                    await action()
                samples = []
                for _ in range(runs):
                    started = time.perf_counter()
                    await action()
                    samples.append(time.perf_counter() - started)
                return statistics.median(samples) * 1000

            result = await median_ms(one_run), await median_ms(select_one)
            await dispose_engines()
            return result
        finally:
            await postgres.stop_async()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    bookkeeping, round_trip = asyncio.run(measure(args.runs))
    print(f"run bookkeeping median {bookkeeping:.2f} ms; SELECT 1 round trip {round_trip:.2f} ms "
          f"(ratio {bookkeeping / round_trip:.1f})")


if __name__ == "__main__":
    main()
