"""Helpers of the HITL tests: start runs through the API and wait for pauses and ends."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

TERMINAL = {"completed", "failed", "cancelled", "timed_out"}


async def start_script(api: httpx.AsyncClient, script: str, input: Any = None, **extra: Any) -> str:
    response = await api.post("/v1/tasks/execute", json={"script": script, "input": input, **extra})
    assert response.status_code == 202, response.text
    return response.json()["id"]


async def wait_status(api: httpx.AsyncClient, run_id: str, statuses, timeout: float = 60) -> dict:
    statuses = {statuses} if isinstance(statuses, str) else set(statuses)
    deadline = time.monotonic() + timeout
    while True:
        response = await api.get(f"/v1/task-runs/{run_id}")
        assert response.status_code == 200, response.text
        run = response.json()
        if run["status"] in statuses:
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run['status']}, expected {statuses}: {run}"
        await asyncio.sleep(0.05)


async def wait_question(api: httpx.AsyncClient, run_id: str, count: int = 1, timeout: float = 60) -> dict:
    """Wait until the run is paused on its ``count``-th question; return that question."""
    deadline = time.monotonic() + timeout
    while True:
        run = (await api.get(f"/v1/task-runs/{run_id}")).json()
        items = (await api.get(f"/v1/task-runs/{run_id}/questions")).json()["items"]
        if run["status"] == "paused" and len(items) >= count and items[count - 1]["status"] == "pending":
            return items[count - 1]
        assert run["status"] not in TERMINAL, f"run {run_id} ended {run['status']}: {run.get('error')}"
        assert time.monotonic() < deadline, f"run {run_id} never paused on question {count}: {run}, {items}"
        await asyncio.sleep(0.05)


async def make_key(hitl_settings, name: str, roles: list[str]) -> str:
    from persistence.db import get_sessionmaker
    from persistence.repository.api_keys import create_api_key

    async with get_sessionmaker(hitl_settings.DATABASE_URL)() as session, session.begin():
        _, secret = await create_api_key(session, name, roles)
    return secret
