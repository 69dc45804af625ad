"""The API and an in-process worker on the session stack, with the HITL test tools registered."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from integrations.registry import get_registry

import hitl_plugin
from app_fixture import running_app

TERMINAL = {"completed", "failed", "cancelled", "timed_out"}


def ensure_plugin() -> None:
    registry = get_registry()
    if "app::slack::ask_question_channel" not in registry:
        hitl_plugin.register(registry)


@pytest.fixture(scope="session")
def hitl_settings(settings_for_stack):
    return settings_for_stack.model_copy(
        update={"TASK_QUEUE": "cytasks-hitl-tests", "API_KEY": "hitl-admin-" + uuid.uuid4().hex}
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def hitl_worker(hitl_settings) -> AsyncIterator[Any]:
    import worker
    from activities.runs import RunActivities

    ensure_plugin()
    client = await worker.connect(hitl_settings)
    activities = await RunActivities.create(hitl_settings)
    running = worker.build_worker(client, hitl_settings, activities)
    async with running:
        yield running
    await activities.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def hitl_app(hitl_settings) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    ensure_plugin()
    async with running_app(hitl_settings, client_address=("203.0.113.7", 4242)) as pair:
        yield pair


@pytest.fixture
def api(hitl_app, hitl_worker) -> httpx.AsyncClient:
    return hitl_app[1]


@pytest.fixture
def temporal(hitl_app):
    return hitl_app[0].state.cytasks.temporal


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]
