"""Fixtures of the API tests: the app on the real stack (PostgreSQL + Temporal), driven in-process."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from api_test_helpers import running_app
from settings import Settings

ADMIN_KEY = "test-admin-" + uuid.uuid4().hex
STACK_FIXTURE_NAMES = ("stack", "dev_stack", "devstack")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def own_api_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[object]:
    """A stack started for these tests when tests/conftest.py provides none."""
    from devstack.stack import DevStack

    stack = DevStack(tmp_path_factory.mktemp("api-stack"), headless=True)
    await stack.start()
    try:
        yield stack
    finally:
        await stack.stop()


@pytest.fixture(scope="session")
def api_stack(request: pytest.FixtureRequest) -> object:
    """The session's stack from tests/conftest.py (real PostgreSQL and Temporal dev server)."""
    for name in STACK_FIXTURE_NAMES:
        try:
            return request.getfixturevalue(name)
        except pytest.FixtureLookupError:
            continue
    return request.getfixturevalue("own_api_stack")


@pytest.fixture(scope="session")
def api_settings(api_stack: object, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = Path(tmp_path_factory.mktemp("api-data"))
    return Settings(
        DATA_DIR=data_dir,
        DATABASE_URL=api_stack.database_url,  # type: ignore[attr-defined]
        TEMPORAL_ADDRESS=api_stack.temporal_address,  # type: ignore[attr-defined]
        TEMPORAL_NAMESPACE=getattr(api_stack, "namespace", "default"),
        TASK_QUEUE="api-tests-" + uuid.uuid4().hex[:8],
        BLOB_DIR=data_dir / "blobs",
        API_KEY=ADMIN_KEY,
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def app_and_client(api_settings: Settings) -> AsyncIterator[tuple[object, httpx.AsyncClient]]:
    async with running_app(api_settings) as pair:
        yield pair


@pytest.fixture
def app(app_and_client: tuple[object, httpx.AsyncClient]) -> object:
    return app_and_client[0]


@pytest.fixture
def client(app_and_client: tuple[object, httpx.AsyncClient]) -> httpx.AsyncClient:
    return app_and_client[1]


@pytest.fixture
def unique() -> str:
    """A short unique suffix so tests sharing the session database do not collide."""
    return uuid.uuid4().hex[:8]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def api_worker(api_settings: Settings) -> AsyncIterator[object]:
    """A worker polling the API tests' task queue, in this process."""
    import worker
    from activities.runs import RunActivities

    client = await worker.connect(api_settings)
    activities = await RunActivities.create(api_settings)
    running = worker.build_worker(client, api_settings, activities)
    async with running:
        yield running
    await activities.close()


@pytest.fixture(scope="session")
def live_server(api_settings: Settings) -> Iterator[str]:
    """The API served by uvicorn on a free port (its own thread and event loop), for the CLI."""
    import threading
    import time

    import uvicorn

    from api.main import create_app
    from devstack.ports import find_free_port

    port = find_free_port()
    config = uvicorn.Config(
        create_app(api_settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="api-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
