"""Where a run's time goes: the product's run path phase by phase, beside the bare baseline.

Same layout as bench/run_latency.py (``cytasks dev`` in a subprocess, the bare baseline in
a worker process of its own, a local target server; see ``bench/fair_stack.py``). Runs go
one at a time, product and bare interleaved. Nothing in the product is instrumented: every
phase is the difference of two timestamps taken from the outside, all on this machine's
wall clock:

* the client's: POST sent, 202 received, terminal status received (``time.time()``);
* the run row's ``created_at`` (the time inside the run's UUIDv7 id, minted by the API once
  the request is authenticated and the script checked; millisecond precision);
* the workflow history (``fetch_history``): each event's server time, and in each local
  activity's marker the time the worker completed it (``complete_time``).

Phases (a workflow task is "WFT"; the phases of one run add up to its end-to-end time):

====================================  ==========================================================
``POST -> run id minted``             HTTP, auth, body, ``compile_check``
``run id -> workflow started``        API: insert run + audit row, commit, start RPC to the server
``workflow started -> 202``           eager start's answer to the API, response to the client
``202 -> WFT1 started``               (eager: the first WFT starts before the API answers: < 0)
``WFT1 started -> completed``         workflow init, status upsert, compile, script up to its
                                      first tool call, WFT completion sent with the first command
                                      (the first tool's activity records the run's start beside
                                      its call; a ``mark_run_running`` local activity appears
                                      here only where the first wait is no tool activity)
``tool N scheduled -> started``       dispatch of the tool activity (0 when dispatched eagerly)
``tool N started -> completed``       the activity itself, as the server saw it
``tool N done -> WFT scheduled->started``  the sticky workflow task's pick-up
``WFT after tool N``                  script resumes to the next command (WFT start -> done),
                                      the last one including ``finish_run``:
``last WFT start -> finish_run``      script end, logs, the finish_run local activity
``finish_run -> workflow completed``  status upsert, WFT completion, workflow closed
``workflow completed -> client sees`` the long poll's wake-up: result, row read, response
====================================  ==========================================================

Last, the tool's own function is timed in this process, outside Temporal (see
``tool_function_alone``), to tell the function's cost from the activity machinery's.

``append_run_logs`` markers (live log hand-overs, the ``http3log`` script) are reported as
the time from the workflow task's start to their completion.

For the baseline the same history phases are shown, with ``start_workflow`` in place of the
API phases and ``result()``'s wake-up in place of the long poll.

Usage: python bench/run_breakdown.py [--runs 20] [--kinds http3,http3log,none] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import uuid
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fair_stack import FairStack, bare_run, product_run, run_and_report  # noqa: E402

BARE_KIND = {"http3": "http3", "http3log": "http3", "none": "none", "sleep0": "sleep0"}


def ts(event) -> float:
    return event.event_time.seconds + event.event_time.nanos / 1e9


def uuid7_seconds(run_id: str) -> float:
    return (uuid.UUID(run_id).int >> 80) / 1000.0


def local_activity(event) -> tuple[str, float] | None:
    """(activity type, complete time) of a local activity marker."""
    attrs = event.marker_recorded_event_attributes
    if attrs.marker_name != "core_local_activity":
        return None
    data = json.loads(attrs.details["data"].payloads[0].data)
    done = data.get("complete_time") or {}
    return data.get("activity_type", "?"), done.get("seconds", 0) + done.get("nanos", 0) / 1e9


def history_phases(events) -> list[tuple[str, float]]:
    """Phases of one workflow history, in order, as (name, seconds)."""
    from temporalio.api.enums.v1 import EventType

    phases: list[tuple[str, float]] = []
    wft_scheduled = wft_started = None
    last_point = None  # when the previous phase ended
    tool = 0
    first = True
    activity_scheduled: dict[int, float] = {}
    activity_started: dict[int, float] = {}
    after = "start"
    for event in events:
        kind = event.event_type
        t = ts(event)
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            last_point = t
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            wft_scheduled = t
            if after != "start":
                phases.append((f"{after} -> WFT scheduled", t - last_point))
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            wft_started = t
            label = "WFT1" if first else f"WFT after {after}"
            phases.append((f"{label} scheduled -> started", t - wft_scheduled))
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            wft_completed = t
            label = "WFT1" if first else f"WFT after {after}"
            phases.append((f"{label} started -> completed", t - wft_started))
            last_point = t
            first = False
            current_wft = (label, wft_started, wft_completed)
        elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = local_activity(event)
            if marker is not None:
                name, done = marker
                label, started, completed = current_wft
                if started - 0.001 <= done <= completed + 0.001:
                    phases.append((f"  in {label}: start -> {name} done", done - started))
                    if name in ("mark_run_running", "finish_run"):
                        phases.append((f"  in {label}: {name} done -> WFT completed", completed - done))
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            tool += 1
            activity_scheduled[event.event_id] = t
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            scheduled_id = event.activity_task_started_event_attributes.scheduled_event_id
            activity_started[scheduled_id] = t
            phases.append((f"tool {tool} scheduled -> started", t - activity_scheduled[scheduled_id]))
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            scheduled_id = event.activity_task_completed_event_attributes.scheduled_event_id
            phases.append((f"tool {tool} started -> completed", t - activity_started[scheduled_id]))
            last_point = t
            after = f"tool {tool}"
        elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
            last_point = t
        elif kind == EventType.EVENT_TYPE_TIMER_FIRED:
            phases.append(("timer started -> fired", t - last_point))
            last_point = t
            after = "timer"
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            pass
    return phases


def closed_at(events) -> float:
    from temporalio.api.enums.v1 import EventType

    for event in reversed(events):
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            return ts(event)
    raise RuntimeError("the workflow did not complete")


async def product_breakdown(stack: FairStack, http, client, kind: str) -> tuple[list, float]:
    run = await product_run(http, kind, stack.target_url)
    handle = client.get_workflow_handle(run["workflow_id"])
    # The run's row is terminal before its workflow completes, so the client may see the end first
    # (the last phase is then negative).
    await handle.result()
    events = list((await handle.fetch_history()).events)
    started = ts(events[0])
    minted = uuid7_seconds(run["id"])
    phases = [
        ("POST -> run id minted", minted - run["t_post"]),
        ("run id -> workflow started (insert, commit, start RPC)", started - minted),
        ("workflow started -> 202 received", run["t_accepted"] - started),
    ]
    phases += history_phases(events)
    phases.append(("workflow completed -> client sees terminal", run["t_seen"] - closed_at(events)))
    return phases, run["t_seen"] - run["t_post"]


async def bare_breakdown(stack: FairStack, client, kind: str) -> tuple[list, float]:
    handle, t_start, t_done = await bare_run(client, BARE_KIND[kind], stack.target_url)
    events = list((await handle.fetch_history()).events)
    phases = [("start_workflow -> workflow started", ts(events[0]) - t_start)]
    phases += history_phases(events)
    phases.append(("workflow completed -> client sees result", t_done - closed_at(events)))
    return phases, t_done - t_start


async def tool_function_alone(url: str, runs: int) -> dict:
    """The tool's own function in this process, outside Temporal, against the same target:
    ``app::http::request``'s function (a new ``httpx.AsyncClient`` per call), a GET on one
    kept client (what the baseline's activity does), and building an ``httpx.AsyncClient``
    alone. Interleaved; medians in ms."""
    import time

    import httpx

    from integrations.context import ToolContext
    from integrations.http import http_request

    kept = httpx.AsyncClient(timeout=30)
    times: dict[str, list[float]] = defaultdict(list)
    try:
        for _ in range(3):
            await http_request(ToolContext(), "GET", url)
            await kept.get(url)
        for _ in range(runs):
            t0 = time.perf_counter()
            await http_request(ToolContext(), "GET", url)
            t1 = time.perf_counter()
            await kept.get(url)
            t2 = time.perf_counter()
            async with httpx.AsyncClient(timeout=30):
                pass
            t3 = time.perf_counter()
            async with httpx.AsyncClient(timeout=30, verify=False):
                pass
            t4 = time.perf_counter()
            times["app::http::request function (new client per call)"].append(t1 - t0)
            times["GET on a kept httpx client (the baseline's activity)"].append(t2 - t1)
            times["httpx.AsyncClient() built and closed, no request"].append(t3 - t2)
            times["the same with verify=False (no TLS context)"].append(t4 - t3)
    finally:
        await kept.aclose()
    return {name: round(statistics.median(values) * 1000, 2) for name, values in times.items()}


def medians(samples: list[list[tuple[str, float]]]) -> list[tuple[str, float, int]]:
    order: list[str] = []
    values: dict[str, list[float]] = defaultdict(list)
    for phases in samples:
        seen: dict[str, int] = defaultdict(int)
        for name, seconds in phases:
            seen[name] += 1
            key = name if seen[name] == 1 else f"{name} #{seen[name]}"
            if key not in values:
                order.append(key)
            values[key].append(seconds)
    return [(name, statistics.median(values[name]) * 1000, len(values[name])) for name in order]


async def measure(args: argparse.Namespace) -> dict:
    result: dict = {"load_before": [round(v, 2) for v in os.getloadavg()], "kinds": {}}
    async with FairStack() as stack:
        client = await stack.temporal_client()
        async with stack.api_client() as http:
            for kind in args.kinds:
                for _ in range(3):  # warm-up
                    await product_run(http, kind, stack.target_url)
                    await bare_run(client, BARE_KIND[kind], stack.target_url)
                product, bare, product_total, bare_total = [], [], [], []
                for _ in range(args.runs):
                    phases, total = await product_breakdown(stack, http, client, kind)
                    product.append(phases)
                    product_total.append(total)
                    phases, total = await bare_breakdown(stack, client, kind)
                    bare.append(phases)
                    bare_total.append(total)
                result["kinds"][kind] = {
                    "product": [{"phase": n, "median_ms": round(ms, 1), "n": c} for n, ms, c in medians(product)],
                    "bare": [{"phase": n, "median_ms": round(ms, 1), "n": c} for n, ms, c in medians(bare)],
                    "product_total_median_ms": round(statistics.median(product_total) * 1000, 1),
                    "bare_total_median_ms": round(statistics.median(bare_total) * 1000, 1),
                }
        result["tool_function_ms"] = await tool_function_alone(stack.target_url, max(args.runs, 20))
    result["load_after"] = [round(v, 2) for v in os.getloadavg()]
    return result


def print_report(result: dict) -> None:
    print(f"load average before {result['load_before']}, after {result['load_after']}")
    for kind, data in result["kinds"].items():
        print()
        print(f"== {kind}: product end to end {data['product_total_median_ms']} ms (median), "
              f"bare {data['bare_total_median_ms']} ms")
        for side in ("product", "bare"):
            print(f"-- {side}{' (' + BARE_KIND[kind] + ')' if side == 'bare' else ''}")
            for row in data[side]:
                print(f"  {row['phase']:<60} {row['median_ms']:>8.1f} ms")
    print()
    print("== the tool's function alone, in the load generator's process (median)")
    for name, ms in result.get("tool_function_ms", {}).items():
        print(f"  {name:<60} {ms:>8.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per side per kind")
    parser.add_argument("--kinds", type=lambda s: s.split(","), default=["http3", "http3log", "none"])
    run_and_report(parser, measure, print_report)


if __name__ == "__main__":
    main()
