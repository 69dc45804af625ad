"""End-to-end run latency and throughput against a bare Temporal baseline.

Everything runs in this one process against one Temporal dev server: the embedded stack,
one worker, and the API served over real HTTP on loopback. Two things are measured,
interleaved so that machine noise hits both sides alike:

* latency: HTTP POST of an ad-hoc script making 3 tool calls, until a GET shows a terminal
  status; versus a bare workflow making 3 plain activities (start until result), with
  no database and no HTTP. Reported as the ratio of medians (target <= 1.25).
* throughput: 200 concurrent runs through the API versus 200 concurrent bare workflows,
  runs per second, in alternating bursts (3 each by default; the median of each side).
  Reported as ours / bare (target >= 0.7).

The bare workflow runs in the SDK's default sandbox; TaskRunWorkflow runs unsandboxed, as
the product's workers do by default (CYTASKS_WORKFLOW_SANDBOX, see settings.py).

Usage: python bench/run_latency.py [--samples 30] [--concurrency 200] [--rounds 3] [--json]
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
import uvicorn
from temporalio.worker import Worker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bare_workflow import BareWorkflow, bare_noop  # noqa: E402

SCRIPT = 'a = app::bench::noop("a")\nb = app::bench::noop(a)\nc = app::bench::noop(b)\nreturn [a, b, c]'
TERMINAL = {"completed", "failed", "cancelled", "timed_out"}
BARE_QUEUE = "bench-bare"
CLIENT_POOLS = 10


def noop(value):
    return value


def register_bench_tools(registry) -> None:
    if "app::bench::noop" not in registry:
        registry.register("app::bench::noop", noop)


class ApiServer:
    """The API served on this event loop, as ``cytasks dev`` serves it."""

    def __init__(self, app, port: int) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_keep_alive=75)
        )
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


async def ours_once(http: httpx.AsyncClient) -> float:
    """POST the run, then long-poll GET (``?wait=``) until it shows a terminal status."""
    started = time.perf_counter()
    response = await http.post("/v1/tasks/execute", json={"script": SCRIPT, "input": None})
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


async def bare_once(client, index: int) -> float:
    started = time.perf_counter()
    handle = await client.start_workflow(
        BareWorkflow.run, "a", id=f"bench-bare-{time.time_ns()}-{index}", task_queue=BARE_QUEUE,
        request_eager_start=True,
    )
    await handle.result()
    return time.perf_counter() - started


async def throughput(make_one, count: int) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(make_one(i) for i in range(count)))
    return count / (time.perf_counter() - started)


async def measure(samples: int, concurrency: int, rounds: int) -> dict:
    from devstack import DevStack
    from devstack.ports import find_free_port as free_port

    import worker as worker_module
    from activities.runs import RunActivities
    from api.main import create_app
    from integrations.registry import get_registry
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
            register_bench_tools(get_registry())
            client = await worker_module.connect(settings)
            activities = await RunActivities.create(settings)
            ours_worker = worker_module.build_worker(client, settings, activities)
            bare_worker = Worker(client, task_queue=BARE_QUEUE, workflows=[BareWorkflow], activities=[bare_noop])
            port = free_port()
            api = ApiServer(create_app(settings, temporal_client=client), port)
            await api.start()
            try:
                # Several small connection pools: one pool of 200 connections makes the load
                # generator itself the bottleneck (httpcore's pool bookkeeping grows with it).
                pools = [
                    httpx.AsyncClient(
                        base_url=f"http://127.0.0.1:{port}",
                        headers={"Authorization": "Bearer bench-key"},
                        limits=httpx.Limits(max_connections=max(1, concurrency // CLIENT_POOLS)),
                        timeout=120,
                    )
                    for _ in range(CLIENT_POOLS)
                ]
                http = pools[0]
                async with ours_worker, bare_worker:
                    for _ in range(3):
                        await ours_once(http)
                        await bare_once(client, 0)
                    ours, bare = [], []
                    for index in range(samples):
                        ours.append(await ours_once(http))
                        bare.append(await bare_once(client, index))
                    ours_rates, bare_rates = [], []
                    for _ in range(rounds):
                        ours_rates.append(
                            await throughput(lambda i: ours_once(pools[i % CLIENT_POOLS]), concurrency)
                        )
                        bare_rates.append(await throughput(lambda i: bare_once(client, i), concurrency))
                    ours_rate = statistics.median(ours_rates)
                    bare_rate = statistics.median(bare_rates)
            finally:
                for pool in pools:
                    await pool.aclose()
                await api.stop()
        finally:
            await stack.stop()
    ours_median, bare_median = statistics.median(ours), statistics.median(bare)
    return {
        "samples": samples,
        "ours_median_ms": round(ours_median * 1000, 1),
        "bare_median_ms": round(bare_median * 1000, 1),
        "latency_ratio": round(ours_median / bare_median, 3),
        "concurrency": concurrency,
        "ours_runs_per_s": round(ours_rate, 1),
        "bare_runs_per_s": round(bare_rate, 1),
        "throughput_ratio": round(ours_rate / bare_rate, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="throughput bursts per side (median)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(measure(args.samples, args.concurrency, args.rounds))
    if args.json:
        print(json.dumps(result))
        return
    print(f"latency   ours {result['ours_median_ms']} ms  bare {result['bare_median_ms']} ms  "
          f"ratio {result['latency_ratio']} (target <= 1.25)")
    print(f"throughput ours {result['ours_runs_per_s']}/s  bare {result['bare_runs_per_s']}/s  "
          f"ratio {result['throughput_ratio']} (target >= 0.7)")


if __name__ == "__main__":
    main()
