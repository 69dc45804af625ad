"""A worker's Prometheus metrics: tool calls, runs finished and the Temporal SDK's own metrics,
scraped over HTTP from the ports their settings name and parsed as the Prometheus text format."""

from __future__ import annotations

import uuid

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from activities.runs import RunActivities
from devstack.ports import find_free_port

from .conftest import Runner

pytestmark = pytest.mark.stack


def scrape(url: str) -> dict[str, dict[tuple, float]]:
    """{sample name: {sorted label items: value}} of a /metrics answer."""
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def before(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_the_worker_serves_tool_and_run_metrics(runner: Runner, engine_settings) -> None:
    import worker

    port = find_free_port()
    server = worker.serve_metrics(engine_settings.model_copy(update={"WORKER_METRICS_PORT": port}))
    assert server is not None
    try:
        echo_ok = before("cytasks_tool_calls_total", tool="app::test::echo", outcome="ok")
        rejected = before("cytasks_tool_call_errors_total", tool="app::test::reject", error="ValueError")
        finished = before("cytasks_runs_finished_total", task="adhoc", status="completed", trigger="adhoc")
        failed = before("cytasks_runs_finished_total", task="adhoc", status="failed", trigger="adhoc")
        durations = before("cytasks_tool_call_duration_seconds_count", tool="app::test::echo")

        ok = await runner.run('return app::test::echo("hi")')
        assert ok.status == "completed", ok.error
        bad = await runner.run('return app::test::reject("no")')
        assert bad.status == "failed"

        samples = scrape(f"http://127.0.0.1:{port}/metrics")
        assert value(samples, "cytasks_tool_calls_total", tool="app::test::echo", outcome="ok") == echo_ok + 1
        assert value(samples, "cytasks_tool_call_errors_total", tool="app::test::reject", error="ValueError") == rejected + 1
        assert value(samples, "cytasks_tool_call_duration_seconds_count", tool="app::test::echo") == durations + 1
        assert value(samples, "cytasks_runs_finished_total", task="adhoc", status="completed", trigger="adhoc") >= finished + 1
        assert value(samples, "cytasks_runs_finished_total", task="adhoc", status="failed", trigger="adhoc") >= failed + 1
        assert value(samples, "cytasks_run_duration_seconds_count", status="completed") >= 1
    finally:
        server.shutdown()


def test_metrics_ports_are_off_by_default(engine_settings) -> None:
    import worker

    assert engine_settings.WORKER_METRICS_PORT == 0
    assert worker.serve_metrics(engine_settings) is None
    assert worker.temporal_runtime(engine_settings) is None


async def test_the_temporal_sdk_metrics_are_served_on_their_port(engine_settings) -> None:
    import worker

    port = find_free_port()
    settings = engine_settings.model_copy(
        update={"WORKER_TEMPORAL_METRICS_PORT": port, "TASK_QUEUE": "metrics-" + uuid.uuid4().hex[:8]}
    )
    client = await worker.connect(settings, worker.temporal_runtime(settings))
    activities = await RunActivities.create(settings)
    try:
        async with worker.build_worker(client, settings, activities):
            row = await Runner(client, settings).run("return 1 + 1")
            assert row.status == "completed"
            samples = scrape(f"http://127.0.0.1:{port}/metrics")
    finally:
        await activities.close()
    temporal = [name for name in samples if name.startswith("temporal_")]
    assert any(name.startswith("temporal_workflow_completed") for name in temporal), sorted(temporal)
    assert any(name.startswith("temporal_workflow_task_execution_latency") for name in temporal), sorted(temporal)
