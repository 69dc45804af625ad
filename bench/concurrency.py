"""Added latency of the ``max_concurrency`` gate at concurrency 1.

Two saved tasks with the same trivial script, one with ``max_concurrency: 1`` and one
without, run one at a time through the API (HTTP POST until a long-polled GET shows a
terminal status). The runs alternate between the two tasks so that machine noise hits both
alike; each round takes the median of its samples, and the figure is the median over rounds
of (gated median - ungated median). Everything runs in this one process against its own
embedded stack: one worker and the API over HTTP on loopback with one shared Temporal
client, as ``cytasks dev`` runs them.

Usage: python bench/concurrency.py [--samples 20] [--rounds 5] [--json]
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

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run_latency import TERMINAL, ApiServer  # noqa: E402

SCRIPT = 'return {"n": input.n + 1}'


async def run_once(http: httpx.AsyncClient, task_id: str, n: int) -> float:
    started = time.perf_counter()
    response = await http.post(f"/v1/tasks/{task_id}/execute", json={"input": {"n": n}})
    response.raise_for_status()
    location = response.headers["location"]
    while True:
        try:
            body = (await http.get(location, params={"wait": 30})).json()
        except httpx.TransportError:  # a keep-alive connection closed under us: GET again
            continue
        if body["status"] in TERMINAL:
            if body["status"] != "completed":
                raise RuntimeError(f"bench run ended {body['status']}: {body.get('error')}")
            return time.perf_counter() - started


async def make_task(http: httpx.AsyncClient, name: str, limit: int | None) -> str:
    response = await http.post("/v1/tasks", json={"name": name, "script": SCRIPT, "max_concurrency": limit})
    response.raise_for_status()
    return response.json()["id"]


async def measure(samples: int, rounds: int) -> dict:
    from devstack import DevStack
    from devstack.ports import find_free_port

    import worker as worker_module
    from activities.runs import RunActivities
    from api.main import create_app
    from settings import Settings

    with tempfile.TemporaryDirectory() as data_dir:
        stack = DevStack(Path(data_dir), headless=True, migrate=True)
        await stack.start()
        try:
            settings = Settings(
                DATA_DIR=Path(data_dir),
                DATABASE_URL=stack.database_url,
                TEMPORAL_ADDRESS=stack.temporal_address,
                API_KEY="bench-key",
            )
            client = await worker_module.connect(settings)
            activities = await RunActivities.create(settings)
            port = find_free_port()
            api = ApiServer(create_app(settings, temporal_client=client), port)
            await api.start()
            http = httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers={"Authorization": "Bearer bench-key"}, timeout=120
            )
            try:
                async with worker_module.build_worker(client, settings, activities):
                    gated = await make_task(http, "bench gated", 1)
                    plain = await make_task(http, "bench plain", None)
                    for n in range(3):
                        await run_once(http, gated, n)
                        await run_once(http, plain, n)
                    per_round = []
                    gated_all, plain_all = [], []
                    for _ in range(rounds):
                        gated_times, plain_times = [], []
                        for n in range(samples):
                            first, second = (gated, plain) if n % 2 == 0 else (plain, gated)
                            a = await run_once(http, first, n)
                            b = await run_once(http, second, n)
                            gated_times.append(a if first == gated else b)
                            plain_times.append(b if first == gated else a)
                        per_round.append(statistics.median(gated_times) - statistics.median(plain_times))
                        gated_all += gated_times
                        plain_all += plain_times
            finally:
                await http.aclose()
                await api.stop()
        finally:
            await stack.stop()
    return {
        "samples_per_round": samples,
        "rounds": rounds,
        "gated_median_ms": round(statistics.median(gated_all) * 1000, 1),
        "plain_median_ms": round(statistics.median(plain_all) * 1000, 1),
        "added_ms_per_round": [round(value * 1000, 1) for value in per_round],
        "added_median_ms": round(statistics.median(per_round) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20, help="runs of each task per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(measure(args.samples, args.rounds))
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"max_concurrency 1: {result['gated_median_ms']} ms per run, without: {result['plain_median_ms']} ms; "
        f"added {result['added_median_ms']} ms (median of rounds {result['added_ms_per_round']})"
    )


if __name__ == "__main__":
    main()
