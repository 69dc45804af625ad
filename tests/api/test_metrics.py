"""`GET /metrics` of the API: who may scrape it, and real values after a run, parsed as the
Prometheus text format."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api_test_helpers import assert_problem

pytestmark = [pytest.mark.stack, pytest.mark.asyncio(loop_scope="session")]


async def scrape(client: httpx.AsyncClient, **headers: str) -> dict[str, dict[tuple, float]]:
    response = await client.get("/metrics", headers=headers or None)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get(name, {}).get(tuple(sorted(labels.items())))


async def _key(client: httpx.AsyncClient, role: str) -> str:
    created = await client.post("/v1/api-keys", json={"name": f"metrics-{role}-{uuid.uuid4().hex[:8]}", "roles": [role]})
    assert created.status_code == 201, created.text
    return created.json()["key"]


async def test_metrics_need_a_key_with_a_reading_role(client) -> None:
    anonymous = await client.get("/metrics", headers={"Authorization": ""})
    assert_problem(anonymous, 401, "unauthorized")
    payloads_only = await _key(client, "payloads")
    assert_problem(await client.get("/metrics", headers={"Authorization": f"Bearer {payloads_only}"}), 403, "forbidden")
    viewer = await _key(client, "viewer")
    samples = await scrape(client, Authorization=f"Bearer {viewer}")
    assert "cytasks_runs_active" in samples


async def test_a_run_shows_in_the_metrics(api_worker, client, unique) -> None:
    created = await client.post(
        "/v1/tasks",
        json={"name": f"Metered {unique}", "script": 'x = app::human::ask("Go?", responses=["yes", "no"])\nreturn x'},
    )
    assert created.status_code == 201, created.text
    task = created.json()
    started = await client.post(f"/v1/tasks/{task['cy_name']}/execute", json={"input": {}})
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    deadline = time.monotonic() + 60
    while (await client.get(f"/v1/task-runs/{run_id}")).json()["status"] != "paused":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)

    paused = await scrape(client)
    assert value(paused, "cytasks_runs_started_total", task=task["cy_name"], trigger="api") == 1
    assert value(paused, "cytasks_runs_finished_total", task=task["cy_name"], status="completed", trigger="api") is None
    assert value(paused, "cytasks_runs_active", status="paused") >= 1
    assert value(paused, "cytasks_questions_pending") >= 1
    assert value(paused, "cytasks_oldest_pending_question_age_seconds") > 0

    answered = await client.post(f"/v1/task-runs/{run_id}/respond", json={"answer": "yes"})
    assert answered.status_code == 202, answered.text
    while (await client.get(f"/v1/task-runs/{run_id}")).json()["status"] != "completed":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)

    done = await scrape(client)
    assert value(done, "cytasks_runs_finished_total", task=task["cy_name"], status="completed", trigger="api") == 1
    assert value(done, "cytasks_run_duration_seconds_count", status="completed") >= 1
    executed = value(
        done, "cytasks_http_requests_total", method="POST", route="/v1/tasks/{task_id}/execute", status="202"
    )
    assert executed >= 1
    assert value(done, "cytasks_http_request_duration_seconds_count", method="GET", route="/v1/task-runs/{run_id}") >= 2
    assert value(done, "cytasks_http_requests_total", method="GET", route="/metrics", status="200") >= 2
    # Raw paths never become label values.
    assert not any(run_id in dict(labels).get("route", "") for labels in done["cytasks_http_requests_total"])
