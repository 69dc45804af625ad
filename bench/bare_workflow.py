"""The baseline of bench/run_latency.py: a bare workflow making 3 plain activities."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="bare_noop")
async def bare_noop(value: str) -> str:
    return value


@workflow.defn(name="BareWorkflow")
class BareWorkflow:
    @workflow.run
    async def run(self, value: str) -> list[str]:
        results = []
        for _ in range(3):
            value = await workflow.execute_activity(
                bare_noop, value, start_to_close_timeout=timedelta(seconds=30)
            )
            results.append(value)
        return results
