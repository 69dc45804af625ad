"""A run's end leaves as a Postgres notice with the commit that records it; the API's listener
wakes the waiters of that run only, and survives losing its connection."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from persistence.db import session_scope
from persistence.repository.runs import create_run, finish_run
from persistence.repository.workflows import create_workflow_run, finish_workflow_run
from persistence.run_notifications import RunEndListener

pytestmark = pytest.mark.stack


@pytest.fixture
async def listener(database_url: str):
    listening = RunEndListener(database_url)
    listening.start()
    assert await listening.wait_until_listening(10)
    yield listening
    await listening.stop()


async def _new_run(database_url: str) -> str:
    async with session_scope(database_url) as session:
        return str((await create_run(session, trigger="api", cy_script="return 1")).id)


async def test_the_end_of_a_task_run_wakes_its_waiters_at_commit(database_url, listener) -> None:
    run_id, other_id = await _new_run(database_url), await _new_run(database_url)
    with listener.watch("task", run_id.upper()) as ended, listener.watch("task", other_id) as other_ended:
        async with session_scope(database_url) as session:
            assert await finish_run(session, run_id, status="completed")
            await session.flush()
            await asyncio.sleep(0.2)
            assert not ended.is_set()  # not before the commit
        await asyncio.wait_for(ended.wait(), 5)
        assert not other_ended.is_set()
    with listener.watch("task", run_id) as ended_again:
        async with session_scope(database_url) as session:  # an end already recorded says nothing
            assert not await finish_run(session, run_id, status="failed")
        await asyncio.sleep(0.3)
        assert not ended_again.is_set()


async def test_a_rolled_back_end_says_nothing(database_url, listener) -> None:
    run_id = await _new_run(database_url)
    with listener.watch("task", run_id) as ended:
        with pytest.raises(RuntimeError):
            async with session_scope(database_url) as session:
                await finish_run(session, run_id, status="completed")
                raise RuntimeError("the transaction rolls back")
        await asyncio.sleep(0.3)
        assert not ended.is_set()


async def test_the_end_of_a_workflow_run_is_announced_too(database_url, listener) -> None:
    async with session_scope(database_url) as session:
        run = await create_workflow_run(session, workflow=None, workflow_id=None, trigger="api", graph={"nodes": [], "edges": []})
    with listener.watch("workflow", run.id) as ended, listener.watch("task", run.id) as wrong_kind:
        async with session_scope(database_url) as session:
            assert await finish_workflow_run(session, run.id, status="completed")
        await asyncio.wait_for(ended.wait(), 5)
        assert not wrong_kind.is_set()


async def test_a_lost_connection_wakes_every_waiter_and_the_listener_comes_back(database_url, listener) -> None:
    run_id = await _new_run(database_url)
    with listener.watch("task", run_id) as woken:
        async with session_scope(database_url) as session:
            killed = await session.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'cytasks-run-ends'"
                )
            )
            assert killed.all()
        await asyncio.wait_for(woken.wait(), 5)  # it may have missed a notice: its waiters look again
    assert await listener.wait_until_listening(10)
    with listener.watch("task", run_id) as ended:
        async with session_scope(database_url) as session:
            assert await finish_run(session, run_id, status="completed")
        await asyncio.wait_for(ended.wait(), 5)
