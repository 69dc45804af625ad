"""A run's end, told to whoever waits for it: Postgres NOTIFY at the commit that records it.

The statement that records a run's end also calls ``pg_notify`` (``ended_notice``), so the
notice leaves with the commit, whatever process made it. An API process keeps one connection
listening (``RunEndListener``) and wakes the long polls waiting on that run at once, instead of
when the run's workflow has completed and Temporal has answered its result. The notice is a
hint: a waiter still falls back on its workflow's end, so a lost notice (the listener was
reconnecting, the run ended some other way) costs time, never a wrong answer.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from sqlalchemy import func, literal
from sqlalchemy.ext.asyncio import AsyncEngine

from .db import Driver, new_async_engine

logger = logging.getLogger(__name__)

CHANNEL = "cytasks_run_ended"
Kind = Literal["task", "workflow"]
APPLICATION_NAME = "cytasks-run-ends"
"""How the listening connection shows in ``pg_stat_activity``."""
RECONNECT_SECONDS = 2.0
PROBE_SECONDS = 30.0
PROBE_TIMEOUT_SECONDS = 10.0


def ended_notice(kind: Kind, run_id: Any):
    """A column expression for ``RETURNING``: the notice of this run's end (sent at commit)."""
    return func.pg_notify(literal(CHANNEL), literal(f"{kind}:{run_id}"))


def _canonical(run_id: Any) -> str:
    try:
        return str(uuid.UUID(str(run_id)))
    except ValueError:
        return str(run_id)


class RunEndListener:
    """One listening connection per process; ``watch`` registers a waiter before its first read."""

    def __init__(self, database_url: str, driver: Driver | None = None) -> None:
        self._database_url = database_url
        self._driver = driver
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._keep_listening(), name="run-end-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._listening.clear()

    async def wait_until_listening(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._listening.wait(), seconds)
        except asyncio.TimeoutError:
            pass
        return self.listening

    @contextmanager
    def watch(self, kind: Kind, run_id: Any) -> Iterator[asyncio.Event]:
        """An event set when the run's end is announced, or when notices may have been missed
        (the connection was lost): the waiter then reads the row again. Register it before
        reading the row, so an end committed between the read and the wait is not missed."""
        key = f"{kind}:{_canonical(run_id)}"
        event = asyncio.Event()
        self._waiters.setdefault(key, set()).add(event)
        try:
            yield event
        finally:
            waiters = self._waiters.get(key)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[key]

    def _announce(self, payload: str) -> None:
        for event in self._waiters.get(payload, ()):
            event.set()

    def _wake_everyone(self) -> None:
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()

    async def _keep_listening(self) -> None:
        while True:
            try:
                engine = new_async_engine(self._database_url, self._driver, pool_size=1, max_overflow=0)
                try:
                    await self._listen(engine)
                finally:
                    await asyncio.shield(engine.dispose())
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning(
                    "run end notices unavailable (%s: %s); retrying in %.0f s", type(error).__name__, error, RECONNECT_SECONDS
                )
            finally:
                if self.listening:
                    self._listening.clear()
                    self._wake_everyone()
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen(self, engine: AsyncEngine) -> None:
        """Listen until the connection fails; a silent (half-open) connection is found by a
        ``SELECT 1`` every ``PROBE_SECONDS`` that must answer within ``PROBE_TIMEOUT_SECONDS``."""
        connection = engine.connect()
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            await connection.start()
        try:
            raw = (await connection.get_raw_connection()).driver_connection
            if engine.dialect.driver == "asyncpg":
                await raw.execute(f"SET application_name = '{APPLICATION_NAME}'")
                lost = asyncio.Event()
                raw.add_termination_listener(lambda _connection: lost.set())
                await raw.add_listener(CHANNEL, lambda _connection, _pid, _channel, payload: self._announce(payload))
                self._listening.set()
                while not lost.is_set():
                    try:
                        await asyncio.wait_for(lost.wait(), PROBE_SECONDS)
                    except asyncio.TimeoutError:
                        await asyncio.wait_for(raw.fetchval("SELECT 1"), PROBE_TIMEOUT_SECONDS)
                raise ConnectionError("the listening connection closed")
            await raw.set_autocommit(True)
            await raw.execute(f"SET application_name = '{APPLICATION_NAME}'")
            await raw.execute(f"LISTEN {CHANNEL}")
            self._listening.set()
            while True:
                async for notice in raw.notifies(timeout=PROBE_SECONDS):
                    self._announce(notice.payload)
                await asyncio.wait_for(raw.execute("SELECT 1"), PROBE_TIMEOUT_SECONDS)
        finally:
            await asyncio.shield(connection.close())
