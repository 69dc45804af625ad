"""How long hostile requests can stall the API's event loop, seen as `/healthz` latency.

The stack is laid out as `cytasks dev` lays it out: embedded Postgres and Temporal dev
server, one worker and the API served by uvicorn on one event loop in this process, with
one shared Temporal client. Two helper processes talk to it over loopback:

* a prober asks `GET /healthz` every ~20 ms on its own connection and records each latency;
* an attacker sends, phase after phase, the requests that used to block the loop: a
  catastrophic JSON Schema pattern, 64 KiB scripts to compile, 10 MB bodies, deep schemas.

The report gives, per phase, the probes answered meanwhile and their p50 / p99 / max
latency, and the longest stall overall.

Usage: python bench/api_stall.py [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

KEY = "bench-key"
PROBE_INTERVAL = 0.02


# --- prober (own process) -------------------------------------------------------------------------


def probe(url: str) -> None:
    """Probe until standard input closes, then print [[wall time, latency], ...]."""
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    samples: list[tuple[float, float]] = []
    with httpx.Client(base_url=url, timeout=120) as client:
        while not done.is_set():
            started_wall, started = time.time(), time.perf_counter()
            client.get("/healthz").raise_for_status()
            latency = time.perf_counter() - started
            samples.append((started_wall, latency))
            time.sleep(max(0.0, PROBE_INTERVAL - latency))
    print(json.dumps(samples))


# --- attacker (own process) -----------------------------------------------------------------------


def _nested_schema(depth: int) -> str:
    return '{"type": "object", "properties": {"a": ' * depth + '{"type": "integer"}' + "}}" * depth


def _big_script(limit: int = 65_000) -> str:
    lines, size, index = [], 0, 0
    while True:
        line = f"v{index} = [{index}, {index} * 2, \"s{index}\"]\n"
        if size + len(line) + 20 > limit:
            break
        lines.append(line)
        size += len(line)
        index += 1
    return "".join(lines) + "return v0\n"


def attack(url: str, rounds: int) -> None:
    """Run the phases; print [{phase, start, end, statuses}, ...]."""
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    phases: list[dict] = []
    with httpx.Client(base_url=url, headers=headers, timeout=120) as setup:
        slow = setup.post("/v1/tasks", json={"name": "Slow pattern", "script": "return 1", "input_schema": {
            "type": "object", "properties": {"s": {"type": "string", "pattern": "^(a|aa)+$"}}}}).json()
        nested = setup.post("/v1/tasks", json={"name": "Nested pattern", "script": "return 1", "input_schema": {
            "type": "object", "properties": {"s": {"type": "string", "pattern": "^(a+)+$"}}}}).json()
        disabled = setup.post("/v1/tasks", json={"name": "Disabled", "script": "return 1",
                                                 "status": "disabled"}).json()
    script = _big_script()
    big_input = ("[" + ",".join(["123456"] * 1_400_000) + "]").encode()
    requests: dict[str, list[tuple[str, str, bytes]]] = {
        "catastrophic pattern": [
            ("POST", f"/v1/tasks/{slow['id']}/execute", json.dumps({"input": {"s": "a" * 40 + "!"}}).encode()),
            ("POST", f"/v1/tasks/{nested['id']}/execute", json.dumps({"input": {"s": "a" * 28 + "!"}}).encode()),
        ] * 4,
        "64 KiB script compile": [
            ("POST", "/v1/tasks", json.dumps({"name": "Big script", "script": script}).encode()),
        ] * 4,
        "10 MB body": [
            ("POST", f"/v1/tasks/{disabled['id']}/execute", b'{"input": ' + big_input + b"}"),
            ("POST", "/v1/tasks/execute", b'{"script": "return 1", "input": "' + b"x" * 11_000_000 + b'"}'),
        ],
        "deep schema": [
            ("POST", "/v1/tasks", ('{"name": "Deep", "script": "return 1", "input_schema": %s}'
                                   % _nested_schema(30)).encode()),
            ("POST", "/v1/tasks", ('{"name": "Deeper", "script": "return 1", "input_schema": %s}'
                                   % _nested_schema(900)).encode()),
        ] * 4,
    }
    clients = [httpx.Client(base_url=url, headers=headers, timeout=120) for _ in range(8)]
    try:
        with ThreadPoolExecutor(len(clients)) as pool:
            phases.append({"phase": "idle", "start": time.time()})
            time.sleep(2)
            phases[-1]["end"] = time.time()
            for phase, batch in requests.items():
                statuses: dict[str, int] = {}
                start = time.time()
                for _ in range(rounds):
                    answers = pool.map(
                        lambda job: clients[job[0] % len(clients)].request(job[1][0], job[1][1], content=job[1][2]),
                        enumerate(batch),
                    )
                    for answer in answers:
                        statuses[str(answer.status_code)] = statuses.get(str(answer.status_code), 0) + 1
                phases.append({"phase": phase, "start": start, "end": time.time(), "statuses": statuses})
                time.sleep(0.5)
    finally:
        for client in clients:
            client.close()
    print(json.dumps(phases))


# --- the stack and the report ----------------------------------------------------------------------


async def _helper(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, __file__, *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )


def _summary(latencies: list[float]) -> dict:
    if not latencies:
        return {"probes": 0}
    ordered = sorted(latencies)
    return {
        "probes": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


async def measure(rounds: int) -> dict:
    import uvicorn

    import worker as worker_module
    from activities.runs import RunActivities
    from api.main import create_app
    from devstack import DevStack
    from devstack.ports import find_free_port
    from settings import Settings

    with tempfile.TemporaryDirectory() as data_dir:
        async with DevStack(Path(data_dir), headless=True, migrate=True) as stack:
            settings = Settings(
                DATA_DIR=Path(data_dir),
                DATABASE_URL=stack.database_url,
                TEMPORAL_ADDRESS=stack.temporal_address,
                API_KEY=KEY,
            )
            client = await worker_module.connect(settings)
            activities = await RunActivities.create(settings)
            port = find_free_port()
            server = uvicorn.Server(
                uvicorn.Config(create_app(settings, temporal_client=client), host="127.0.0.1", port=port,
                               log_level="error", timeout_keep_alive=75)
            )
            url = f"http://127.0.0.1:{port}"
            async with worker_module.build_worker(client, settings, activities):
                serving = asyncio.create_task(server.serve())
                while not server.started:
                    await asyncio.sleep(0.02)
                prober = await _helper("--probe", url)
                attacker = await _helper("--attack", url, "--rounds", str(rounds))
                attack_out, _ = await attacker.communicate()
                prober.stdin.close()
                probe_out, _ = await prober.communicate()
                server.should_exit = True
                await serving
            await activities.close()
    phases = json.loads(attack_out)
    samples = json.loads(probe_out)
    report = {"phases": []}
    for phase in phases:
        during = [latency for wall, latency in samples if phase["start"] <= wall <= phase["end"]]
        report["phases"].append({"phase": phase["phase"], "statuses": phase.get("statuses", {}), **_summary(during)})
    report["overall"] = _summary([latency for _, latency in samples])
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="times each phase's batch is sent")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--probe", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--attack", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        return probe(args.probe)
    if args.attack:
        return attack(args.attack, args.rounds)
    report = asyncio.run(measure(args.rounds))
    if args.json:
        print(json.dumps(report))
        return
    print(f"{'phase':<24} {'answers':<28} {'probes':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for row in report["phases"]:
        answers = ", ".join(f"{count}x{status}" for status, count in sorted(row["statuses"].items())) or "-"
        print(f"{row['phase']:<24} {answers:<28} {row['probes']:>6} {row.get('p50_ms', '-'):>8} "
              f"{row.get('p99_ms', '-'):>8} {row.get('max_ms', '-'):>8}")
    print(f"longest /healthz stall: {report['overall']['max_ms']} ms over {report['overall']['probes']} probes")


if __name__ == "__main__":
    main()
