"""An in-process worker against the session stack, with the test tools registered."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from activities.runs import RunActivities
from integrations.registry import get_registry
from persistence.db import get_sessionmaker
from persistence.repository import create_run, get_run
from taskrun.client import start_task_run
from taskrun.contract import TaskRunRequest

from . import plugin


@pytest.fixture(scope="session")
def engine_settings(settings_for_stack):
    return settings_for_stack.model_copy(update={"TASK_QUEUE": "cytasks-engine-tests"})


@pytest.fixture(scope="session")
async def temporal_client(engine_settings):
    import worker

    return await worker.connect(engine_settings)


@pytest.fixture(scope="session")
async def engine_worker(temporal_client, engine_settings):
    import worker

    registry = get_registry()
    if "app::test::echo" not in registry:
        plugin.register(registry)
    activities = await RunActivities.create(engine_settings)
    running = worker.build_worker(temporal_client, engine_settings, activities)
    async with running:
        yield running


class Runner:
    """Creates a run row, starts its workflow and reads the row back once it ends."""

    def __init__(self, client, settings) -> None:
        self.client = client
        self.settings = settings
        self.sessions = get_sessionmaker(settings.DATABASE_URL)

    async def start(self, script: str, input: Any = None, **request: Any) -> str:
        async with self.sessions() as session, session.begin():
            row = await create_run(
                session, trigger="adhoc", cy_script=script, input_storage="inline", input_inline=input
            )
            run_id = str(row.id)
        await start_task_run(
            self.client,
            TaskRunRequest(run_id=run_id, script=script, input=input, trigger="adhoc", **request),
            task_queue=self.settings.TASK_QUEUE,
            namespace=self.settings.TEMPORAL_NAMESPACE,
        )
        return run_id

    async def wait(self, run_id: str, timeout: float = 60) -> Any:
        handle = self.client.get_workflow_handle(f"taskrun-{run_id}")
        try:
            await asyncio.wait_for(handle.result(), timeout)
        except Exception:
            pass
        return await self.row(run_id)

    async def row(self, run_id: str):
        async with self.sessions() as session:
            return await get_run(session, uuid.UUID(run_id))

    async def run(self, script: str, input: Any = None, **request: Any):
        return await self.wait(await self.start(script, input, **request))


@pytest.fixture
async def runner(engine_worker, temporal_client, engine_settings) -> Runner:
    return Runner(temporal_client, engine_settings)
