"""A database or Temporal that is down is answered 503 with Retry-After, and the API recovers by itself.

The database test stops and restarts a PostgreSQL of its own (the session's is shared by
every other test), behind the API served by uvicorn, so the connection itself is observed."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from api_test_helpers import assert_problem, running_app
from settings import Settings

pytestmark = [pytest.mark.stack, pytest.mark.asyncio(loop_scope="session")]

KEY = "degraded-" + uuid.uuid4().hex


@pytest_asyncio.fixture(loop_scope="session")
async def own_postgres() -> AsyncIterator[object]:
    from devstack.postgres import EmbeddedPostgres
    from persistence.migrate import upgrade

    data_dir = Path(tempfile.mkdtemp(prefix="cytasks-outage-"))  # traversable by the postgres user
    postgres = EmbeddedPostgres(data_dir / "postgres")
    await postgres.start_async()
    await asyncio.to_thread(upgrade, postgres.database_url)
    try:
        yield postgres
    finally:
        await postgres.stop_async()
        shutil.rmtree(data_dir, ignore_errors=True)


def _serve(settings: Settings) -> Iterator[str]:
    import uvicorn

    from api.main import create_app
    from devstack.ports import find_free_port

    port = find_free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="api-outage-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _settings(api_settings: Settings, **changes: object) -> Settings:
    return api_settings.model_copy(update={"API_KEY": KEY, "DATABASE_POOL_TIMEOUT_SECONDS": 3.0, **changes})


def _local_port(response: httpx.Response) -> int:
    return response.extensions["network_stream"].get_extra_info("client_addr")[1]


async def test_database_outage_is_503_on_a_kept_connection_and_heals(own_postgres, api_settings) -> None:
    settings = _settings(api_settings, DATABASE_URL=own_postgres.database_url)
    servers = _serve(settings)
    base_url = next(servers)
    try:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {KEY}"}, limits=limits, timeout=30
        ) as client:
            created = await client.post("/v1/tasks", json={"name": "Outage", "script": "return 1"})
            assert created.status_code == 201, created.text
            port = _local_port(created)

            await own_postgres.stop_async()
            for method, url, body in [
                ("GET", "/v1/tasks", None),
                ("GET", f"/v1/tasks/{created.json()['id']}", None),
                ("POST", "/v1/tasks", {"name": "During", "script": "return 1"}),
                ("GET", "/v1/task-runs", None),
            ]:
                response = await client.request(method, url, json=body)
                problem = assert_problem(response, 503, "service-unavailable")
                assert "database" in problem["detail"]
                assert int(response.headers["retry-after"]) > 0
                assert response.headers.get("connection", "").lower() != "close"
                assert _local_port(response) == port, "the 503 closed the connection"
            ready = await client.get("/readyz")
            assert_problem(ready, 503, "service-unavailable")
            assert "retry-after" in ready.headers

            await own_postgres.start_async()
            assert own_postgres.database_url == settings.DATABASE_URL
            first = await client.get("/v1/tasks")
            assert first.status_code == 200, first.text
            assert created.json()["id"] in [task["id"] for task in first.json()["items"]]
            assert (await client.post("/v1/tasks", json={"name": "After", "script": "return 1"})).status_code == 201
            assert (await client.get("/readyz")).status_code == 200
    finally:
        next(servers, None)


async def test_temporal_outage_is_503_with_retry_after(api_settings) -> None:
    from devstack.ports import find_free_port

    # The session database, so the session's bootstrap key (a different one would replace it).
    settings = api_settings.model_copy(
        update={"TEMPORAL_ADDRESS": f"127.0.0.1:{find_free_port()}", "DATABASE_POOL_TIMEOUT_SECONDS": 3.0}
    )  # nothing listens there
    async with running_app(settings) as (_, client):
        response = await client.post("/v1/tasks/execute", json={"script": "return 1"})
        problem = assert_problem(response, 503, "workflow-start-failed")
        assert "retry-after" in response.headers
        run = (await client.get(f"/v1/task-runs/{problem['run_id']}")).json()
        assert run["status"] == "failed"

        task = (await client.post("/v1/tasks", json={"name": f"No Temporal {uuid.uuid4().hex[:6]}",
                                                     "script": "return 1"})).json()
        response = await client.put(f"/v1/tasks/{task['id']}/schedule", json={"interval": "5m"})
        assert_problem(response, 503, "service-unavailable")
        assert "retry-after" in response.headers

        ready = await client.get("/readyz")
        assert_problem(ready, 503, "service-unavailable")
        assert ready.json()["checks"]["database"] == "ok"
        assert "retry-after" in ready.headers
