"""Where the machine's CPU goes per run, process by process: the product against the bare baseline.

Throughput at a high concurrency (bench/run_latency.py) is bound by the machine's cores, which
every process of both sides shares. This bench tells how much CPU one run costs each of them.
Same layout as bench/run_latency.py (``bench/fair_stack.py``): ``cytasks dev`` (API and worker
in one process), the bare worker in its own process, one Temporal dev server, the embedded
Postgres, and this load generator. Bursts of ``--runs`` ``http3`` runs, ``--concurrency`` at a
time, product and bare alternating for ``--rounds`` rounds; each process's user and system CPU
over a burst (``/proc/<pid>/stat``; Postgres is the stack's postmaster with its live and
exited children), divided by the runs. A burst's figures include what the other side's idle
processes spend meanwhile.

``--patch-probe`` also runs the bare ``http3`` workflow with and without four
``workflow.patched`` calls (kind ``http3patched``), alternating: the server's and the worker's
CPU per patch (each patch is a marker and, from the SDK, a search-attribute upsert).

Usage: python bench/run_cpu.py [--runs 300] [--concurrency 20] [--rounds 2] [--patch-probe] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bare_workflow import PROBE_PATCHES  # noqa: E402
from bench.fair_stack import FairStack, bare_run, product_run, run_and_report  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, reaped: bool = False) -> tuple[float, float]:
    """(user, system) CPU seconds of one process; ``reaped`` adds its children that have
    exited (Postgres backends and autovacuum workers come and go during a burst)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    user, system = int(fields[11]), int(fields[12])
    if reaped:
        user, system = user + int(fields[13]), system + int(fields[14])
    return user / TICK, system / TICK


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            pass
    return found


class Meter:
    """CPU of the stack's processes; ``postgres`` is the stack's postmaster and its children."""

    def __init__(self, stack: FairStack) -> None:
        self.pids = {"cytasks dev": stack.dev.pid, "bare worker": stack.bare.pid}
        for pid in children(stack.dev.pid):
            if Path(f"/proc/{pid}/comm").read_text().strip() == "temporal":
                self.pids["temporal server"] = pid
        # The stack's own Postgres (its postmaster is not a child of cytasks dev).
        self.postmaster = int((stack.dir / "data" / "postgres" / "postmaster.pid").read_text().split()[0])

    def read(self) -> dict[str, tuple[float, float]]:
        now = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        user, system = cpu_seconds(self.postmaster, reaped=True)
        for pid in children(self.postmaster):
            try:
                u, s = cpu_seconds(pid)
            except OSError:  # exited meanwhile: counted as reaped next time
                continue
            user, system = user + u, system + s
        now["postgres"] = (user, system)
        mine = os.times()
        now["load generator"] = (mine.user, mine.system)
        return now


async def measured_burst(meter: Meter, make_one, runs: int, concurrency: int) -> dict:
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        async with gate:
            await make_one(index)

    before = meter.read()
    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(runs)))
    elapsed = time.perf_counter() - started
    after = meter.read()
    per_run = {
        name: round((sum(after[name]) - sum(before[name])) * 1000 / runs, 2) for name in after
    }
    per_run["total"] = round(sum(per_run.values()), 2)
    return {"runs_per_s": round(runs / elapsed, 1), "cpu_ms_per_run": per_run}


def medians(bursts: list[dict]) -> dict:
    names = bursts[0]["cpu_ms_per_run"].keys()
    return {
        "runs_per_s": statistics.median(b["runs_per_s"] for b in bursts),
        "cpu_ms_per_run": {n: round(statistics.median(b["cpu_ms_per_run"][n] for b in bursts), 1) for n in names},
    }


async def measure(args: argparse.Namespace) -> dict:
    async with FairStack() as stack:
        client = await stack.temporal_client()
        meter = Meter(stack)
        url = stack.target_url
        async with stack.api_client(args.concurrency) as http:

            async def product(index: int) -> None:
                await product_run(http, "http3", url)

            def bare_of(kind: str):
                async def bare(index: int) -> None:
                    await bare_run(client, kind, url, index)

                return bare

            for warm in (product, bare_of("http3"), bare_of("http3patched")):
                await asyncio.gather(*(warm(i) for i in range(10)))
            sides = {"product": product, "bare": bare_of("http3")}
            if args.patch_probe:
                sides["bare, 4 patches"] = bare_of("http3patched")
            bursts: dict[str, list[dict]] = {name: [] for name in sides}
            for index in range(args.rounds):
                order = list(sides) if index % 2 == 0 else list(reversed(sides))
                for name in order:
                    bursts[name].append(await measured_burst(meter, sides[name], args.runs, args.concurrency))
    result = {"runs": args.runs, "concurrency": args.concurrency, "rounds": args.rounds, "bursts": bursts}
    result["median"] = {name: medians(b) for name, b in bursts.items()}
    if args.patch_probe:
        with_patches = result["median"]["bare, 4 patches"]["cpu_ms_per_run"]
        without = result["median"]["bare"]["cpu_ms_per_run"]
        result["per_patch_ms"] = {
            name: round((with_patches[name] - without[name]) / len(PROBE_PATCHES), 2)
            for name in ("temporal server", "bare worker")
        }
    return result


def print_report(result: dict) -> None:
    print(f"== CPU per http3 run, {result['runs']} runs {result['concurrency']} at a time, median of {result['rounds']} bursts")
    sides = list(result["median"])
    names = list(result["median"][sides[0]]["cpu_ms_per_run"])
    print(f"  {'ms of CPU per run':<22}" + "".join(f"{side:>18}" for side in sides))
    for name in names:
        print(f"  {name:<22}" + "".join(f"{result['median'][side]['cpu_ms_per_run'][name]:>18.1f}" for side in sides))
    print(f"  {'runs/s':<22}" + "".join(f"{result['median'][side]['runs_per_s']:>18.1f}" for side in sides))
    if "per_patch_ms" in result:
        print("  one patch costs (ms of CPU per run): " + ", ".join(f"{k} {v}" for k, v in result["per_patch_ms"].items()))


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=positive, default=300)
    parser.add_argument("--concurrency", type=positive, default=20)
    parser.add_argument("--rounds", type=positive, default=2)
    parser.add_argument("--patch-probe", action="store_true")
    run_and_report(parser, measure, print_report)


if __name__ == "__main__":
    main()
