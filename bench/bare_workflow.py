"""The baseline of bench/run_latency.py and bench/run_breakdown.py: a bare Temporal workflow.

``BareWorkflow`` does what the benchmark's Cy scripts do, with nothing of the product around
it (no database, no API, no interpreter):

* ``http3``: three activities one after another, each an HTTP GET to the same local server
  the product's ``app::http::request`` calls hit;
* ``none``: returns at once (no activity);
* ``sleep0``: ``workflow.sleep(0)``, the same call the product makes for Cy's ``sleep(0)``;
* ``http3patched``: ``http3`` after asking four patches (``workflow.patched``), the probe of
  what a patch costs the server (bench/run_cpu.py).

``BareApprovalWorkflow`` is the baseline of resuming a paused run: it waits for a signal and
returns its answer.

``BareGraphWorkflow`` is the floor under bench/workflow_overhead.py: the same shapes (a chain of
3, a fan-out of N) made of ``BareStepWorkflow`` children that return at once, so it measures what
Temporal's child workflows cost on this server and nothing else.

Run as a script, this module is the baseline's worker process: its own process, its own
client and its own worker, configured like the product's worker (``worker.build_worker``):
the same workflow runner (``CYTASKS_WORKFLOW_SANDBOX`` decides sandboxed or not, with the
same passthrough modules), the same activity thread pool size, the same sticky cache size
(``CYTASKS_MAX_CACHED_WORKFLOWS``) and the same number of workflow task pollers
(``CYTASKS_WORKFLOW_TASK_POLLERS``).

    python bench/bare_workflow.py --address 127.0.0.1:7233 --task-queue bench-bare
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    import httpx

BARE_QUEUE = "bench-bare"
KINDS = ("http3", "http3local", "none", "sleep0", "http3patched")
PROBE_PATCHES = ("probe-1", "probe-2", "probe-3", "probe-4")
"""``http3local`` is the product's local-tool variant; the baseline runs it as ``http3`` (three
regular activities): the ratio compares local tools with what they replace."""

_http: httpx.AsyncClient | None = None


@activity.defn(name="bare_http_get")
async def bare_http_get(url: str) -> dict:
    """One GET to the target server, answering what ``app::http::request`` answers (status,
    headers, parsed JSON body). The client is the worker process's, kept between calls."""
    global _http
    if _http is None:
        _http = httpx.AsyncClient(timeout=30)
    response = await _http.get(url)
    return {"status": response.status_code, "headers": dict(response.headers), "body": response.json()}


@workflow.defn(name="BareWorkflow")
class BareWorkflow:
    @workflow.run
    async def run(self, kind: str, url: str) -> list:
        if kind == "none":
            return []
        if kind == "sleep0":
            await workflow.sleep(0)
            return []
        if kind == "http3patched":
            for patch in PROBE_PATCHES:
                workflow.patched(patch)
        results = []
        for _ in range(3):
            answer = await workflow.execute_activity(
                bare_http_get,
                url,
                # The product's app::http::request: 120 s, one attempt.
                start_to_close_timeout=timedelta(seconds=120),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
            results.append(answer["status"])
        return results


@workflow.defn(name="BareApprovalWorkflow")
class BareApprovalWorkflow:
    """The baseline of bench/hitl_resume.py: wait for a signal carrying an answer, return it."""

    def __init__(self) -> None:
        self.answer: str | None = None

    @workflow.signal(name="answer")
    def receive(self, answer: str) -> None:
        self.answer = answer

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.answer is not None)
        return self.answer or ""


@workflow.defn(name="BareStepWorkflow")
class BareStepWorkflow:
    @workflow.run
    async def run(self, n: int) -> int:
        return n + 1


@workflow.defn(name="BareGraphWorkflow")
class BareGraphWorkflow:
    """``("chain", 3)``: three children one after another, each given the last one's result;
    ``("fan", 20)``: twenty children at once, their results collected."""

    @workflow.run
    async def run(self, shape: str, width: int) -> list:
        prefix = workflow.info().workflow_id
        if shape == "chain":
            value = 0
            for index in range(width):
                value = await workflow.execute_child_workflow(BareStepWorkflow.run, value, id=f"{prefix}-{index}")
            return [value]
        return list(
            await asyncio.gather(
                *(workflow.execute_child_workflow(BareStepWorkflow.run, index, id=f"{prefix}-{index}") for index in range(width))
            )
        )


async def serve(address: str, namespace: str, task_queue: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from temporalio.client import Client
    from temporalio.worker import Worker

    import worker as worker_module
    from settings import Settings

    settings = Settings(TEMPORAL_ADDRESS=address, TEMPORAL_NAMESPACE=namespace)
    client = await Client.connect(address, namespace=namespace)
    bare = Worker(
        client,
        task_queue=task_queue,
        workflows=[BareWorkflow, BareApprovalWorkflow, BareGraphWorkflow, BareStepWorkflow],
        workflow_runner=worker_module.workflow_runner(settings.WORKFLOW_SANDBOX),
        activities=[bare_http_get],
        activity_executor=ThreadPoolExecutor(max_workers=8),
        max_cached_workflows=settings.MAX_CACHED_WORKFLOWS,
        max_concurrent_workflow_task_polls=settings.WORKFLOW_TASK_POLLERS,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with bare:
        print(f"bare worker ready sandbox={settings.WORKFLOW_SANDBOX}", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="The bare baseline's worker process")
    parser.add_argument("--address", required=True)
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--task-queue", default=BARE_QUEUE)
    args = parser.parse_args()
    asyncio.run(serve(args.address, args.namespace, args.task_queue))


if __name__ == "__main__":
    main()
