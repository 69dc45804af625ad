"""Human-in-the-loop at scale: memory of paused runs and resume-to-terminal latency.

The embedded stack (PostgreSQL and the Temporal dev server) and the API (served over real
HTTP on loopback) run in this process; the worker runs in a subprocess so that its
resident memory can be measured alone (psutil). Steps:

1. start the worker, run a few warm-up runs to completion, sample its RSS: *idle*;
2. start N runs (default 1,000) through the API, each pausing on ``app::human::ask``;
   wait until every one is ``paused`` with its question pending; sample RSS: *paused*;
3. answer every run through ``POST /v1/task-runs/{id}/respond`` (one at a time by default) and time
   each from the respond request to the first GET showing a terminal status.

Targets: paused - idle <= 50 MB; median resume-to-terminal < 75 ms (p95 reported).

Usage: python bench/hitl.py [--runs 1000] [--answer-concurrency 1] [--max-cached-workflows N] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import uvicorn

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

SCRIPT = """verdict = app::human::ask("Approve alert ${input.n}?", responses=["approve", "reject"])
return {"n": input.n, "verdict": verdict}"""
TERMINAL = {"completed", "failed", "cancelled", "timed_out"}
TASK_QUEUE = "bench-hitl"


class ApiServer:
    def __init__(self, app, port: int) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task


def start_worker(settings, extra_env: dict[str, str]) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(
        {
            "CYTASKS_DATABASE_URL": settings.DATABASE_URL,
            "CYTASKS_TEMPORAL_ADDRESS": settings.TEMPORAL_ADDRESS,
            "CYTASKS_TEMPORAL_NAMESPACE": settings.TEMPORAL_NAMESPACE,
            "CYTASKS_TASK_QUEUE": TASK_QUEUE,
            "CYTASKS_BLOB_DIR": str(settings.blob_dir),
            "PYTHONPATH": str(REPO_ROOT),
            **extra_env,
        }
    )
    return subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "worker.py")],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / (1024 * 1024)


async def settle_rss(pid: int, seconds: float = 3.0) -> float:
    """The worker's RSS once it stops moving: the max of samples over a few seconds."""
    samples = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        samples.append(rss_mb(pid))
        await asyncio.sleep(0.25)
    return max(samples)


async def status_of(http: httpx.AsyncClient, run_id: str) -> str:
    response = await http.get(f"/v1/task-runs/{run_id}")
    response.raise_for_status()
    return response.json()["status"]


async def start_runs(http: httpx.AsyncClient, count: int, concurrency: int, offset: int = 0) -> list[str]:
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> str:
        async with gate:
            response = await http.post("/v1/tasks/execute", json={"script": SCRIPT, "input": {"n": n}})
            response.raise_for_status()
            return response.json()["id"]

    return list(await asyncio.gather(*(one(offset + n) for n in range(count))))


async def wait_all_paused(http: httpx.AsyncClient, run_ids: list[str], timeout: float) -> float:
    started = time.monotonic()
    wanted = set(run_ids)
    while True:
        paused: set[str] = set()
        cursor = None
        while True:
            params = {"status": "pending", "limit": 200}
            if cursor:
                params["cursor"] = cursor
            page = (await http.get("/v1/questions", params=params)).json()
            paused.update(q["run_id"] for q in page["items"] if q["run_id"] in wanted)
            cursor = page.get("next_cursor")
            if not cursor:
                break
        if paused >= wanted:
            # The question row and the paused status are written together; check a few runs anyway.
            for run_id in run_ids[:5]:
                assert await status_of(http, run_id) == "paused"
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"only {len(paused)} of {len(wanted)} runs paused within {timeout:g} s")
        await asyncio.sleep(0.5)


RESPOND_MS: list[float] = []


async def answer_and_time(http: httpx.AsyncClient, run_id: str, poll: float) -> float:
    started = time.perf_counter()
    response = await http.post(f"/v1/task-runs/{run_id}/respond", json={"answer": "approve"})
    RESPOND_MS.append((time.perf_counter() - started) * 1000)
    if response.status_code != 202:
        raise RuntimeError(f"respond to {run_id}: HTTP {response.status_code} {response.text}")
    while True:
        status = await status_of(http, run_id)
        if status in TERMINAL:
            if status != "completed":
                raise RuntimeError(f"run {run_id} ended {status}")
            return time.perf_counter() - started
        await asyncio.sleep(poll)


async def answer_all(http: httpx.AsyncClient, run_ids: list[str], concurrency: int, poll: float) -> list[float]:
    gate = asyncio.Semaphore(concurrency)

    async def one(run_id: str) -> float:
        async with gate:
            return await answer_and_time(http, run_id, poll)

    return list(await asyncio.gather(*(one(run_id) for run_id in run_ids)))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


async def measure(args: argparse.Namespace) -> dict:
    from api.main import create_app
    from devstack import DevStack
    from devstack.ports import find_free_port
    from settings import Settings

    extra_env = {}
    if args.max_cached_workflows is not None:
        extra_env["CYTASKS_MAX_CACHED_WORKFLOWS"] = str(args.max_cached_workflows)
    with tempfile.TemporaryDirectory(prefix="cytasks-bench-hitl-") as data_dir:
        stack = DevStack(Path(data_dir), headless=True, migrate=True)
        await stack.start()
        worker = None
        api = None
        try:
            settings = Settings(
                DATA_DIR=Path(data_dir),
                DATABASE_URL=stack.database_url,
                TEMPORAL_ADDRESS=stack.temporal_address,
                TEMPORAL_NAMESPACE=stack.namespace,
                TASK_QUEUE=TASK_QUEUE,
                API_KEY="bench-hitl-key",
                DATABASE_POOL_SIZE=20,
            )
            worker = start_worker(settings, extra_env)
            port = find_free_port()
            api = ApiServer(create_app(settings), port)
            await api.start()
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": "Bearer bench-hitl-key"},
                limits=httpx.Limits(max_connections=64),
                timeout=120,
            ) as http:
                warm = await start_runs(http, args.warmup, 8, offset=10**6)
                await wait_all_paused(http, warm, timeout=120)
                await answer_all(http, warm, 4, args.poll)
                gc.collect()
                idle = await settle_rss(worker.pid)

                started = time.monotonic()
                run_ids = await start_runs(http, args.runs, args.start_concurrency)
                start_seconds = time.monotonic() - started
                await wait_all_paused(http, run_ids, timeout=args.pause_timeout)
                pause_seconds = time.monotonic() - started
                paused = await settle_rss(worker.pid)

                latencies = await answer_all(http, run_ids, args.answer_concurrency, args.poll)
                after = rss_mb(worker.pid)
        finally:
            if api is not None:
                await api.stop()
            if worker is not None and worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    worker.kill()
            await stack.stop()
    ms = [value * 1000 for value in latencies]
    return {
        "runs": args.runs,
        "max_cached_workflows": args.max_cached_workflows,
        "answer_concurrency": args.answer_concurrency,
        "start_seconds": round(start_seconds, 1),
        "all_paused_after_seconds": round(pause_seconds, 1),
        "rss_idle_mb": round(idle, 1),
        "rss_paused_mb": round(paused, 1),
        "rss_paused_over_idle_mb": round(paused - idle, 1),
        "rss_after_resume_mb": round(after, 1),
        "resume_median_ms": round(statistics.median(ms), 1),
        "resume_p95_ms": round(percentile(ms, 0.95), 1),
        "resume_max_ms": round(max(ms), 1),
        "respond_request_median_ms": round(statistics.median(RESPOND_MS[-len(ms):]), 1),
        "targets": {"rss_over_idle_mb": 50, "resume_median_ms": 75},
        "ok": (paused - idle) <= 50 and statistics.median(ms) < 75,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--start-concurrency", type=int, default=32)
    parser.add_argument("--answer-concurrency", type=int, default=1)
    parser.add_argument("--poll", type=float, default=0.005, help="seconds between status polls")
    parser.add_argument("--pause-timeout", type=float, default=600)
    parser.add_argument(
        "--max-cached-workflows", type=int, default=None, help="override the worker's sticky cache size"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(measure(args))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"runs paused:                 {result['runs']} (all paused after {result['all_paused_after_seconds']} s)")
    print(f"worker RSS idle:             {result['rss_idle_mb']} MB")
    print(f"worker RSS with runs paused: {result['rss_paused_mb']} MB "
          f"(+{result['rss_paused_over_idle_mb']} MB, target <= 50)")
    print(f"resume to terminal:          median {result['resume_median_ms']} ms (target < 75), "
          f"p95 {result['resume_p95_ms']} ms, max {result['resume_max_ms']} ms")
    print(f"  of which the respond request: median {result['respond_request_median_ms']} ms")
    print("OK" if result["ok"] else "TARGET MISSED")


if __name__ == "__main__":
    main()
