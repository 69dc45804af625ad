"""What composing tasks into a workflow costs, measured through the API of ``cytasks dev``.

* **chain**: a 3-node workflow (A -> B -> C, each node's result the next one's input) against
  the same three tasks run ad hoc one after another by a client that feeds each output to
  the next run (``POST /v1/tasks/{task}/execute``, then the long poll, three times). Target:
  at most 1.2x.
* **fan-out**: a workflow whose entry fans out to 20 task nodes collected at the end, against
  a workflow of one such node. Target: at most 3x.

Both sides run on the same stack (``bench/fair_stack.py``: ``cytasks dev`` in a subprocess),
interleaved round by round; medians and the spread of the rounds are reported.

The floor: the same two shapes as bare Temporal (``BareGraphWorkflow`` in bench/bare_workflow.py,
its own worker process on the same server), children that return at once: a chain of 3 against
three bare workflows started one after another, and a fan-out of 20 against one child. Their
ratios say what child workflows cost on this server before the product adds anything.

Usage: python bench/workflow_overhead.py [--rounds 5] [--samples 10] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.fair_stack import FairStack  # noqa: E402

TERMINAL = {"completed", "failed", "cancelled", "timed_out"}
FAN_OUT = 20
KEYS = ("chain", "three_adhoc", "fan_out", "one_node", "bare_chain", "bare_three", "bare_fan_out", "bare_one")
STEP = 'return {"n": input.n + 1, "seen": (input.seen ?? []) + ["${input.n}"]}'


async def post(http, path: str, body: dict) -> dict:
    response = await http.post(path, json=body)
    if response.status_code >= 300:
        raise RuntimeError(f"POST {path}: {response.status_code} {response.text}")
    return response.json()


async def until_done(http, location: str) -> dict:
    while True:
        body = (await http.get(location, params={"wait": 30})).json()
        if body["status"] in TERMINAL:
            if body["status"] != "completed":
                raise RuntimeError(f"{location} ended {body['status']}: {body.get('error')}")
            return body


async def setup(http) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:6]
    names = {"a": f"step_a_{suffix}", "b": f"step_b_{suffix}", "c": f"step_c_{suffix}"}
    for name in names.values():
        await post(http, "/v1/tasks", {"name": name, "cy_name": name, "script": STEP})
    chain = f"chain-{suffix}"
    await post(
        http,
        "/v1/workflows",
        {
            "name": chain,
            "nodes": [{"id": key, "task": name} for key, name in names.items()],
            "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}],
        },
    )
    wide, single = f"fan-{suffix}", f"one-{suffix}"
    await post(
        http,
        "/v1/workflows",
        {
            "name": wide,
            "nodes": [{"id": "start", "kind": "identity"}]
            + [{"id": f"n{i}", "task": names["a"]} for i in range(FAN_OUT)]
            + [{"id": "all", "kind": "collect"}],
            "edges": [{"from": "start", "to": f"n{i}"} for i in range(FAN_OUT)]
            + [{"from": f"n{i}", "to": "all"} for i in range(FAN_OUT)],
        },
    )
    await post(http, "/v1/workflows", {"name": single, "nodes": [{"id": "n0", "task": names["a"]}], "edges": []})
    return {**names, "chain": chain, "wide": wide, "single": single}


async def workflow_run(http, name: str, input: dict) -> float:
    started = time.perf_counter()
    run = await post(http, f"/v1/workflows/{name}/execute", {"input": input})
    await until_done(http, f"/v1/workflow-runs/{run['id']}")
    return time.perf_counter() - started


async def three_adhoc(http, names: dict[str, str], input: dict) -> float:
    started = time.perf_counter()
    value = input
    for key in ("a", "b", "c"):
        run = await post(http, f"/v1/tasks/{names[key]}/execute", {"input": value})
        value = (await until_done(http, f"/v1/task-runs/{run['id']}"))["output"]
    return time.perf_counter() - started


async def bare_graph(client, shape: str, width: int) -> float:
    from bench.bare_workflow import BARE_QUEUE, BareGraphWorkflow

    started = time.perf_counter()
    await client.execute_workflow(
        BareGraphWorkflow.run, args=[shape, width], id=f"bench-bare-graph-{uuid.uuid4()}", task_queue=BARE_QUEUE
    )
    return time.perf_counter() - started


async def bare_three(client) -> float:
    from bench.bare_workflow import BARE_QUEUE, BareStepWorkflow

    started = time.perf_counter()
    value = 0
    for _ in range(3):
        value = await client.execute_workflow(
            BareStepWorkflow.run, value, id=f"bench-bare-step-{uuid.uuid4()}", task_queue=BARE_QUEUE, request_eager_start=True
        )
    return time.perf_counter() - started


def spread(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p10_ms": round(ordered[len(ordered) // 10] * 1000, 1),
        "p90_ms": round(ordered[min(len(ordered) - 1, (len(ordered) * 9) // 10)] * 1000, 1),
    }


async def measure(args: argparse.Namespace) -> dict:
    async with FairStack() as stack, stack.api_client() as http:
        client = await stack.temporal_client()
        names = await setup(http)

        async def sample(into: dict[str, list[float]]) -> None:
            into["chain"].append(await workflow_run(http, names["chain"], {"n": 0}))
            into["three_adhoc"].append(await three_adhoc(http, names, {"n": 0}))
            into["fan_out"].append(await workflow_run(http, names["wide"], {"n": 0}))
            into["one_node"].append(await workflow_run(http, names["single"], {"n": 0}))
            into["bare_chain"].append(await bare_graph(client, "chain", 3))
            into["bare_three"].append(await bare_three(client))
            into["bare_fan_out"].append(await bare_graph(client, "fan", FAN_OUT))
            into["bare_one"].append(await bare_graph(client, "fan", 1))

        for _ in range(3):  # warm-up: caches, connections, first workflow tasks
            await sample({key: [] for key in KEYS})
        rounds = []
        for _ in range(args.rounds):
            times: dict[str, list[float]] = {key: [] for key in KEYS}
            for _ in range(args.samples):
                await sample(times)
            median = {key: statistics.median(values) for key, values in times.items()}
            rounds.append(
                {
                    **{key: spread(values) for key, values in times.items()},
                    "chain_ratio": round(median["chain"] / median["three_adhoc"], 2),
                    "fan_out_ratio": round(median["fan_out"] / median["one_node"], 2),
                    "bare_chain_ratio": round(median["bare_chain"] / median["bare_three"], 2),
                    "bare_fan_out_ratio": round(median["bare_fan_out"] / median["bare_one"], 2),
                }
            )
    chain_ratios = [r["chain_ratio"] for r in rounds]
    fan_ratios = [r["fan_out_ratio"] for r in rounds]
    return {
        "rounds": rounds,
        "bare_chain_ratio_median": statistics.median(r["bare_chain_ratio"] for r in rounds),
        "bare_fan_out_ratio_median": statistics.median(r["bare_fan_out_ratio"] for r in rounds),
        "chain_ratio_median": statistics.median(chain_ratios),
        "chain_ratio_range": [min(chain_ratios), max(chain_ratios)],
        "fan_out_ratio_median": statistics.median(fan_ratios),
        "fan_out_ratio_range": [min(fan_ratios), max(fan_ratios)],
        "targets": {"chain_ratio": 1.2, "fan_out_ratio": 3.0},
        "ok": statistics.median(chain_ratios) <= 1.2 and statistics.median(fan_ratios) <= 3.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(measure(args))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for index, r in enumerate(result["rounds"], 1):
        print(
            f"round {index}: chain {r['chain']['median_ms']} ms vs three ad-hoc runs {r['three_adhoc']['median_ms']} ms "
            f"(ratio {r['chain_ratio']}); fan-out of {FAN_OUT} {r['fan_out']['median_ms']} ms vs one node "
            f"{r['one_node']['median_ms']} ms (ratio {r['fan_out_ratio']})\n"
            f"  bare Temporal: chain {r['bare_chain']['median_ms']} ms vs three workflows {r['bare_three']['median_ms']} ms "
            f"(ratio {r['bare_chain_ratio']}); fan-out {r['bare_fan_out']['median_ms']} ms vs one child "
            f"{r['bare_one']['median_ms']} ms (ratio {r['bare_fan_out_ratio']})"
        )
    print(
        f"chain ratio: median {result['chain_ratio_median']} (rounds {result['chain_ratio_range']}, target <= 1.2); "
        f"fan-out ratio: median {result['fan_out_ratio_median']} (rounds {result['fan_out_ratio_range']}, target <= 3)\n"
        f"bare Temporal floor: chain ratio {result['bare_chain_ratio_median']}, fan-out ratio {result['bare_fan_out_ratio_median']}"
    )


if __name__ == "__main__":
    main()
