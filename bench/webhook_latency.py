"""Webhook delivery against API execute: how long until the run has started.

The layout is the product's (``bench/fair_stack.py``): ``cytasks dev`` in a subprocess (its
worker and its API in one process sharing one Temporal client, the API served by uvicorn over
HTTP); this process only sends requests. One saved task (``return input``) has a signed hook.
Run by run, interleaved (which side goes first alternates), this process

* delivers a signed JSON body to ``POST /v1/hooks/{id}`` (the signature computed before the
  clock starts, as a sender would), and
* posts the same body as the input of ``POST /v1/tasks/{id}/execute``,

then long-polls each run to its end. For both sides it reports, from ``time.time()`` just
before the request is sent:

* ``accepted``: until the 202 is received (the run is recorded and its workflow started);
* ``started``: until the run's ``started_at`` (the worker marked the row running), read from
  the run once it has ended (same machine, same clock).

Medians and p99 per side, and the webhook's excess over execute (target: within 50 ms).

Usage: python bench/webhook_latency.py [--samples 100] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fair_stack import FairStack  # noqa: E402

WARM_UP = 5


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def summary(values_s: list[float]) -> dict:
    ms = [value * 1000 for value in values_s]
    return {"median_ms": round(statistics.median(ms), 1), "p99_ms": round(percentile(ms, 0.99), 1), "n": len(ms)}


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


async def setup(http) -> tuple[dict, dict]:
    name = f"bench_hook_{os.getpid()}"
    task = await http.post("/v1/tasks", json={"name": name, "cy_name": name, "script": "return input"})
    task.raise_for_status()
    hook = await http.post(f"/v1/tasks/{name}/hooks", json={"name": "bench"})
    hook.raise_for_status()
    return task.json(), hook.json()


async def _ended(http, location: str) -> dict:
    while True:
        response = await http.get(location, params={"wait": 30})
        response.raise_for_status()
        run = response.json()
        if run["status"] not in ("pending", "running", "paused"):
            return run


async def one_webhook(http, hook: dict, payload: dict) -> tuple[float, float]:
    body = json.dumps(payload).encode()
    stamp = str(int(time.time()))
    signature = "sha256=" + hmac.new(hook["secret"].encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Cytasks-Timestamp": stamp,
        "X-Cytasks-Signature": signature,
        "Authorization": "",
    }
    sent = time.time()
    response = await http.post(f"/v1/hooks/{hook['id']}", content=body, headers=headers)
    accepted = time.time()
    if response.status_code != 202:
        raise RuntimeError(f"delivery answered {response.status_code}: {response.text}")
    run = await _ended(http, response.headers["Location"])
    return accepted - sent, _epoch(run["started_at"]) - sent


async def one_execute(http, task: dict, payload: dict) -> tuple[float, float]:
    sent = time.time()
    response = await http.post(f"/v1/tasks/{task['id']}/execute", json={"input": payload})
    accepted = time.time()
    if response.status_code != 202:
        raise RuntimeError(f"execute answered {response.status_code}: {response.text}")
    run = await _ended(http, response.headers["Location"])
    return accepted - sent, _epoch(run["started_at"]) - sent


async def compare(http, task: dict, hook: dict, samples: int) -> dict:
    for index in range(WARM_UP):
        await one_webhook(http, hook, {"warm": index})
        await one_execute(http, task, {"warm": index})
    measured: dict[str, dict[str, list[float]]] = {
        side: {"accepted": [], "started": []} for side in ("webhook", "execute")
    }
    for index in range(samples):
        payload = {"event": "bench", "n": index}
        order = ("webhook", "execute") if index % 2 == 0 else ("execute", "webhook")
        for side in order:
            if side == "webhook":
                accepted, started = await one_webhook(http, hook, payload)
            else:
                accepted, started = await one_execute(http, task, payload)
            measured[side]["accepted"].append(accepted)
            measured[side]["started"].append(started)
    result: dict = {"samples": samples, "load": [round(value, 2) for value in os.getloadavg()]}
    for side, figures in measured.items():
        result[side] = {phase: summary(values) for phase, values in figures.items()}
    result["webhook_minus_execute_ms"] = {
        phase: {
            "median": round(result["webhook"][phase]["median_ms"] - result["execute"][phase]["median_ms"], 1),
            "p99": round(result["webhook"][phase]["p99_ms"] - result["execute"][phase]["p99_ms"], 1),
        }
        for phase in ("accepted", "started")
    }
    return result


def print_table(result: dict) -> None:
    print(f"{result['samples']} runs per side, interleaved; load average {result['load']}")
    print(f"{'':10} {'accepted median':>16} {'p99':>8} {'started median':>16} {'p99':>8}")
    for side in ("webhook", "execute"):
        row = result[side]
        print(
            f"{side:10} {row['accepted']['median_ms']:>13.1f} ms {row['accepted']['p99_ms']:>5.1f} ms"
            f" {row['started']['median_ms']:>13.1f} ms {row['started']['p99_ms']:>5.1f} ms"
        )
    excess = result["webhook_minus_execute_ms"]
    print(
        f"webhook - execute: accepted {excess['accepted']['median']:+.1f} ms median ({excess['accepted']['p99']:+.1f} p99), "
        f"started {excess['started']['median']:+.1f} ms median ({excess['started']['p99']:+.1f} p99); target within 50 ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    async with FairStack() as stack:
        async with stack.api_client() as http:
            task, hook = await setup(http)
            result = await compare(http, task, hook, args.samples)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)


if __name__ == "__main__":
    asyncio.run(main())
