"""The API and one in-process worker on the session stack, on a task queue of these tests alone."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from app_fixture import running_app as app_client
from settings import Settings

ADMIN_KEY = "sched-admin-" + uuid.uuid4().hex


@pytest.fixture(scope="session")
def sched_settings(stack, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = Path(tmp_path_factory.mktemp("sched-data"))
    return Settings(
        DATA_DIR=data_dir,
        DATABASE_URL=stack.database_url,
        TEMPORAL_ADDRESS=stack.temporal_address,
        TEMPORAL_NAMESPACE=stack.namespace,
        TASK_QUEUE="sched-tests-" + uuid.uuid4().hex[:8],
        BLOB_DIR=data_dir / "blobs",
        API_KEY=ADMIN_KEY,
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def sched_app(sched_settings: Settings) -> AsyncIterator[tuple[object, httpx.AsyncClient]]:
    async with app_client(sched_settings) as pair:
        yield pair


@pytest.fixture
def api(sched_app) -> httpx.AsyncClient:
    return sched_app[1]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal(sched_settings: Settings):
    import worker

    return await worker.connect(sched_settings)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def sched_worker(sched_settings: Settings, temporal) -> AsyncIterator[object]:
    import worker
    from activities.runs import RunActivities

    activities = await RunActivities.create(sched_settings)
    running = worker.build_worker(temporal, sched_settings, activities)
    async with running:
        yield running
    await activities.close()


@pytest_asyncio.fixture(loop_scope="session")
async def make_task(api: httpx.AsyncClient) -> AsyncIterator[object]:
    """Creates tasks; removes their schedules afterwards so nothing keeps firing."""
    created: list[str] = []

    async def make(script: str = "return input", **fields) -> dict:
        body = {"name": f"sched {uuid.uuid4().hex[:10]}", "script": script, **fields}
        response = await api.post("/v1/tasks", json=body)
        assert response.status_code == 201, response.text
        task = response.json()
        created.append(task["id"])
        return task

    yield make
    for task_id in created:
        await api.delete(f"/v1/tasks/{task_id}/schedule")


@pytest_asyncio.fixture(loop_scope="session")
async def make_workflow(api: httpx.AsyncClient) -> AsyncIterator[Any]:
    """Creates a two-task workflow (double the input's n, then add one); removes the schedules
    afterwards so nothing keeps firing."""
    created: list[str] = []

    async def make(**fields: Any) -> dict:
        suffix = uuid.uuid4().hex[:8]
        tasks = {}
        for name, script in (("double", "return {\"n\": input.n * 2}"), ("inc", "return input.n + 1")):
            response = await api.post("/v1/tasks", json={"name": f"{name} {suffix}", "script": script})
            assert response.status_code == 201, response.text
            tasks[name] = response.json()
        body = {
            "name": f"wfsched-{suffix}",
            "input_schema": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}},
            "nodes": [
                {"id": "double", "task": tasks["double"]["cy_name"]},
                {"id": "inc", "task": tasks["inc"]["cy_name"]},
            ],
            "edges": [{"from": "double", "to": "inc"}],
            **fields,
        }
        response = await api.post("/v1/workflows", json=body)
        assert response.status_code == 201, response.text
        workflow = response.json()
        workflow["tasks"] = tasks
        created.append(workflow["id"])
        return workflow

    yield make
    for workflow_id in created:
        await api.delete(f"/v1/workflows/{workflow_id}/schedule")
