"""The fair benchmarks import and run end to end for a handful of runs (no timing asserted)."""

from __future__ import annotations

import pytest

from bench import run_breakdown, run_cpu, run_latency, workflow_overhead
from bench.fair_stack import FairStack, product_run


@pytest.mark.stack
@pytest.mark.timeout(120)
async def test_fair_benchmarks_run_a_few_samples() -> None:
    async with FairStack() as stack:
        client = await stack.temporal_client()
        async with stack.api_client() as http:
            row = await run_latency.latency(stack, http, client, "none", samples=1, rounds=1)
            assert row["product"]["n"] == 1 and row["bare"]["n"] == 1
            rate = await run_latency.throughput(stack, [http], client, concurrency=2, rounds=1)
            assert len(rate["product_runs_per_s"]) == 1
            phases, total = await run_breakdown.product_breakdown(stack, http, client, "http3log")
            names = [name for name, _ in phases]
            assert "tool 3 started -> completed" in names
            assert any("append_run_logs" in name for name in names)  # the first log line, handed over
            assert not any("mark_run_running" in name for name in names)  # recorded beside tool 1
            assert any("finish_run" in name for name in names)
            assert total > 0
            phases, total = await run_breakdown.bare_breakdown(stack, client, "http3")
            assert "tool 3 started -> completed" in [name for name, _ in phases]
            assert await workflow_overhead.bare_graph(client, "chain", 3) > 0
            assert await workflow_overhead.bare_graph(client, "fan", 3) > 0
            assert await workflow_overhead.bare_three(client) > 0
            meter = run_cpu.Meter(stack)
            assert set(meter.pids) == {"cytasks dev", "bare worker", "temporal server"}
            burst = await run_cpu.measured_burst(meter, lambda i: product_run(http, "none", stack.target_url), 2, 2)
            assert burst["cpu_ms_per_run"]["cytasks dev"] > 0 and burst["runs_per_s"] > 0
