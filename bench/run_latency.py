"""End-to-end run latency and throughput of the product against a fair bare-Temporal baseline.

The layout is the one a user of ``cytasks dev`` meets (see ``bench/fair_stack.py``):
``cytasks dev`` itself in a subprocess (its worker and its API in one process, sharing one
Temporal client, the API served by uvicorn over HTTP), the bare baseline in a worker
process of its own configured like the product's worker (same ``CYTASKS_WORKFLOW_SANDBOX``,
same runner, thread pool and cache size), both on the dev stack's Temporal server, and a
local JSON server that both sides' HTTP calls hit. This process only generates load.

* latency, per kind of run, one run at a time, product and bare interleaved run by run:
  - product: ``POST /v1/tasks/execute``, then the long poll ``GET /v1/task-runs/{id}?wait=30``
    until it shows a terminal status (``--client poll``, the default), or ``POST
    /v1/tasks/execute?wait=30``, which answers with the ended run (``--client wait``);
  - bare: ``start_workflow`` + ``result()`` of ``BareWorkflow``;
  kinds: ``http3`` (three ``app::http::request`` GETs vs three activities doing the same
  GET), ``none`` (no tool call vs no activity), ``sleep0`` (``sleep(0)`` vs
  ``workflow.sleep(0)``), ``http3local`` (the same three GETs with ``timeout=5``, so they run as
  local activities, against the baseline's three regular activities). Reported per round (median of the round) and over all rounds
  (median, p10, p90), and as the ratio product/bare of the medians (target <= 1.25 for
  ``http3``); the spread is the min and max of the per-round ratios.
* throughput: ``--concurrency`` (100) ``http3`` runs at once, product and bare bursts
  alternating, ``--rounds`` each; runs/s per burst, the median of each side, and the ratio
  product/bare (target >= 0.7) with its spread over the paired bursts.

Usage: python bench/run_latency.py [--samples 20] [--rounds 5] [--concurrency 100]
                                   [--kinds http3,none,sleep0] [--sleep-samples 5]
                                   [--client wait|poll] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fair_stack import CLIENTS, FairStack, bare_run, product_run, run_and_report  # noqa: E402

CLIENT_POOLS = 10


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def summary(values_s: list[float]) -> dict:
    ms = [v * 1000 for v in values_s]
    return {
        "median_ms": round(statistics.median(ms), 1),
        "p10_ms": round(percentile(ms, 0.1), 1),
        "p90_ms": round(percentile(ms, 0.9), 1),
        "n": len(ms),
    }


async def latency(stack: FairStack, http, client, kind: str, samples: int, rounds: int, how: str = "poll") -> dict:
    url = stack.target_url
    for _ in range(3):  # warm-up: compile caches, connections, sticky queues
        await product_run(http, kind, url, how)
        await bare_run(client, kind, url)
    per_round = []
    all_product, all_bare = [], []
    for _ in range(rounds):
        product, bare = [], []
        for index in range(samples):
            # Interleaved run by run; which side goes first alternates.
            order = ("product", "bare") if index % 2 == 0 else ("bare", "product")
            for side in order:
                if side == "product":
                    run = await product_run(http, kind, url, how)
                    product.append(run["t_seen"] - run["t_post"])
                else:
                    _, started, done = await bare_run(client, kind, url, index)
                    bare.append(done - started)
        per_round.append(
            {
                "product_median_ms": round(statistics.median(product) * 1000, 1),
                "bare_median_ms": round(statistics.median(bare) * 1000, 1),
                "ratio": round(statistics.median(product) / statistics.median(bare), 3),
                "load": load_average(),
            }
        )
        all_product += product
        all_bare += bare
    ratios = [r["ratio"] for r in per_round]
    return {
        "kind": kind,
        "product": summary(all_product),
        "bare": summary(all_bare),
        "ratio": round(statistics.median(all_product) / statistics.median(all_bare), 3),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "rounds": per_round,
    }


async def burst(make_one, count: int) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(make_one(i) for i in range(count)))
    return count / (time.perf_counter() - started)


async def throughput(stack: FairStack, pools, client, concurrency: int, rounds: int, how: str = "poll") -> dict:
    url = stack.target_url

    async def product(i: int):
        return await product_run(pools[i % len(pools)], "http3", url, how)

    async def bare(i: int):
        return await bare_run(client, "http3", url, i)

    await burst(product, min(concurrency, 20))
    await burst(bare, min(concurrency, 20))
    product_rates, bare_rates, loads = [], [], []
    for index in range(rounds):
        sides = (("product", product), ("bare", bare))
        for name, make in sides if index % 2 == 0 else reversed(sides):
            rate = await burst(make, concurrency)
            (product_rates if name == "product" else bare_rates).append(rate)
        loads.append(load_average())
    ratios = [p / b for p, b in zip(product_rates, bare_rates)]
    return {
        "concurrency": concurrency,
        "product_runs_per_s": [round(r, 1) for r in product_rates],
        "bare_runs_per_s": [round(r, 1) for r in bare_rates],
        "product_median": round(statistics.median(product_rates), 1),
        "bare_median": round(statistics.median(bare_rates), 1),
        "ratio": round(statistics.median(product_rates) / statistics.median(bare_rates), 3),
        "ratio_min": round(min(ratios), 3),
        "ratio_max": round(max(ratios), 3),
        "load": loads,
    }


def other_load() -> str:
    """The busiest processes on the machine besides this benchmark's, for the record."""
    try:
        out = subprocess.run(
            ["top", "-b", "-n", "1", "-o", "%CPU", "-w", "200"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    lines = out.splitlines()
    header = next((i for i, line in enumerate(lines) if line.lstrip().startswith("PID")), None)
    if header is None:
        return ""
    rows = [line.split() for line in lines[header + 1 : header + 7]]
    return "; ".join(f"{row[8]}% {row[-1]}" for row in rows if len(row) >= 12)


async def measure(args: argparse.Namespace) -> dict:
    result: dict = {
        "load_before": load_average(),
        "sandbox": os.environ.get("CYTASKS_WORKFLOW_SANDBOX", "false"),
        "client": args.client,
    }
    async with FairStack() as stack:
        client = await stack.temporal_client()
        pools = [stack.api_client(max(1, args.concurrency // CLIENT_POOLS)) for _ in range(CLIENT_POOLS)]
        try:
            http = pools[0]
            result["latency"] = []
            for kind in args.kinds:
                samples = args.sleep_samples if kind == "sleep0" else args.samples
                result["latency"].append(await latency(stack, http, client, kind, samples, args.rounds, args.client))
            if args.concurrency:
                result["throughput"] = await throughput(stack, pools, client, args.concurrency, args.rounds, args.client)
        finally:
            for pool in pools:
                await pool.aclose()
    result["load_after"] = load_average()
    result["top_processes_after"] = other_load()  # instantaneous %CPU (top)
    return result


def print_report(result: dict) -> None:
    print(f"workflow sandbox: {result['sandbox']} (both sides); product client: {result['client']}; "
          f"load average before {result['load_before']}, after {result['load_after']}")
    print(f"{'kind':8} {'product ms (p10-p90)':>24} {'bare ms (p10-p90)':>22} {'ratio':>6} {'rounds':>14}")
    for row in result["latency"]:
        p, b = row["product"], row["bare"]
        print(
            f"{row['kind']:8} {p['median_ms']:>8} ({p['p10_ms']}-{p['p90_ms']}){'':>3} "
            f"{b['median_ms']:>7} ({b['p10_ms']}-{b['p90_ms']}) {row['ratio']:>6} "
            f"{row['ratio_min']}-{row['ratio_max']}"
        )
    for row in result["latency"]:
        print(f"  {row['kind']} per round: " + ", ".join(
            f"{r['product_median_ms']}/{r['bare_median_ms']}={r['ratio']}" for r in row["rounds"]))
    t = result.get("throughput")
    if t:
        print(
            f"throughput at {t['concurrency']} concurrent http3 runs: product {t['product_median']}/s "
            f"{t['product_runs_per_s']}, bare {t['bare_median']}/s {t['bare_runs_per_s']}, "
            f"ratio {t['ratio']} ({t['ratio_min']}-{t['ratio_max']}) (target >= 0.7)"
        )
    http3 = next((r for r in result["latency"] if r["kind"] == "http3"), None)
    if http3:
        print(f"latency ratio http3 {http3['ratio']} ({http3['ratio_min']}-{http3['ratio_max']}) (target <= 1.25)")
    local = next((r for r in result["latency"] if r["kind"] == "http3local"), None)
    if local:
        print(f"latency ratio http3local (local tools vs regular activities) {local['ratio']} ({local['ratio_min']}-{local['ratio_max']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20, help="runs per side per round (http3, none)")
    parser.add_argument("--sleep-samples", type=int, default=5, help="runs per side per round for sleep0")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=100, help="0 skips the throughput bursts")
    parser.add_argument("--kinds", type=lambda s: s.split(","), default=["http3", "none", "sleep0"])
    parser.add_argument(
        "--client", choices=CLIENTS, default="poll",
        help="wait: POST /v1/tasks/execute?wait=30 (the end in one request); poll: POST, then GET ?wait=30",
    )
    run_and_report(parser, measure, print_report)


if __name__ == "__main__":
    main()
