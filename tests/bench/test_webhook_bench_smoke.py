"""The webhook latency benchmark imports and runs end to end for a couple of runs (no timing asserted)."""

from __future__ import annotations

import pytest

from bench import webhook_latency
from bench.fair_stack import FairStack


@pytest.mark.stack
@pytest.mark.timeout(120)
async def test_webhook_benchmark_runs_a_few_samples() -> None:
    async with FairStack() as stack:
        async with stack.api_client() as http:
            task, hook = await webhook_latency.setup(http)
            result = await webhook_latency.compare(http, task, hook, samples=2)
    for side in ("webhook", "execute"):
        assert result[side]["accepted"]["n"] == 2 and result[side]["started"]["n"] == 2
        assert result[side]["accepted"]["median_ms"] > 0
    assert set(result["webhook_minus_execute_ms"]) == {"accepted", "started"}
