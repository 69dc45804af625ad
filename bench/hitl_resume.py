"""Resuming a paused run, one answer at a time, against a bare workflow resumed by a signal.

* the product: a run paused on ``app::human::ask`` through the API of ``cytasks dev``; timed from
  the ``POST /v1/task-runs/{id}/respond`` to the terminal status seen by the long poll
  (``GET /v1/task-runs/{id}?wait=30``);
* the baseline: ``BareApprovalWorkflow`` (bench/bare_workflow.py, its own worker process on the
  same Temporal server, configured like the product's worker), timed from the signal to
  ``result()``. It is the floor under the product's figure: one signal, one workflow task, the
  result seen by a long poll, with nothing of the product around it.

Both sides are paused first, then answered alternately. Reports medians and spread per round.

Usage: python bench/hitl_resume.py [--runs 30] [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.fair_stack import FairStack  # noqa: E402

SCRIPT = 'v = app::human::ask("Approve?", responses=["yes", "no"])\nreturn v'
TERMINAL = {"completed", "failed", "cancelled", "timed_out"}


async def paused_runs(http, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        response = await http.post("/v1/tasks/execute", json={"script": SCRIPT})
        response.raise_for_status()
        ids.append(response.json()["id"])
    for run_id in ids:
        while (await http.get(f"/v1/task-runs/{run_id}")).json()["status"] != "paused":
            await asyncio.sleep(0.05)
    return ids


async def answer_product(http, run_id: str) -> float:
    started = time.perf_counter()
    response = await http.post(f"/v1/task-runs/{run_id}/respond", json={"answer": "yes"})
    if response.status_code != 202:
        raise RuntimeError(f"respond: {response.status_code} {response.text}")
    while True:
        body = (await http.get(f"/v1/task-runs/{run_id}", params={"wait": 30})).json()
        if body["status"] in TERMINAL:
            if body["status"] != "completed":
                raise RuntimeError(f"run {run_id} ended {body['status']}")
            return time.perf_counter() - started


async def waiting_bare(client, count: int, stamp: str) -> list:
    from bench.bare_workflow import BARE_QUEUE, BareApprovalWorkflow

    handles = [
        await client.start_workflow(BareApprovalWorkflow.run, id=f"bench-approval-{stamp}-{i}", task_queue=BARE_QUEUE)
        for i in range(count)
    ]
    for handle in handles:
        while (await handle.describe()).raw_description.pending_workflow_task.ByteSize():
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.5)
    return handles


async def answer_bare(handle) -> float:
    started = time.perf_counter()
    await handle.signal("answer", "yes")
    await handle.result()
    return time.perf_counter() - started


def ms(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p10_ms": round(ordered[len(ordered) // 10] * 1000, 1),
        "p90_ms": round(ordered[min(len(ordered) - 1, len(ordered) * 9 // 10)] * 1000, 1),
    }


async def measure(args: argparse.Namespace) -> dict:
    rounds = []
    async with FairStack() as stack, stack.api_client() as http:
        client = await stack.temporal_client()
        await answer_product(http, (await paused_runs(http, 1))[0])  # warm-up
        for index in range(args.rounds):
            product_ids = await paused_runs(http, args.runs)
            bare = await waiting_bare(client, args.runs, f"{time.time_ns()}-{index}")
            product, baseline = [], []
            for run_id, handle in zip(product_ids, bare):
                product.append(await answer_product(http, run_id))
                baseline.append(await answer_bare(handle))
            rounds.append(
                {
                    "product": ms(product),
                    "bare": ms(baseline),
                    "over_bare_ms": round((statistics.median(product) - statistics.median(baseline)) * 1000, 1),
                }
            )
    medians = [r["product"]["median_ms"] for r in rounds]
    return {
        "runs_per_round": args.runs,
        "rounds": rounds,
        "product_median_ms": statistics.median(medians),
        "bare_median_ms": statistics.median([r["bare"]["median_ms"] for r in rounds]),
        "target_product_median_ms": 50,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(measure(args))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for index, r in enumerate(result["rounds"], 1):
        print(
            f"round {index}: product {r['product']['median_ms']} ms (p10 {r['product']['p10_ms']}, p90 "
            f"{r['product']['p90_ms']}); bare {r['bare']['median_ms']} ms; product over bare {r['over_bare_ms']} ms"
        )
    print(f"median of rounds: product {result['product_median_ms']} ms, bare {result['bare_median_ms']} ms (target: product < 50 ms)")


if __name__ == "__main__":
    main()
