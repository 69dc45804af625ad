"""The embedded stack (PostgreSQL + Temporal dev server) as one async context manager."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

from temporalio.client import Client

from devstack.ports import find_free_port
from devstack.postgres import EmbeddedPostgres
from devstack.temporal import TemporalDevServer
from devstack.watchdog import Watchdog

logger = logging.getLogger(__name__)


class DevStack:
    """Starts PostgreSQL and the Temporal dev server under `data_dir`, and stops both on exit.

    `async with DevStack(data_dir, temporal_port=7233, ui_port=8233) as stack:` then
    `stack.database_url`, `stack.temporal_address`, `stack.ui_url`, `stack.client`.
    Ports left as None are chosen free. With `migrate=True` the schema is upgraded after start."""

    def __init__(
        self,
        data_dir: Path | str,
        temporal_port: int | None = None,
        ui_port: int | None = None,
        *,
        namespace: str = "default",
        headless: bool = False,
        migrate: bool = True,
        startup_timeout: float = 90.0,
        temporal_extra_args: tuple[str, ...] = (),
    ) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.namespace = namespace
        self.migrate = migrate
        self.startup_timeout = startup_timeout
        temporal_port = temporal_port or find_free_port()
        if ui_port is None and not headless:
            ui_port = find_free_port()
        self.postgres = EmbeddedPostgres(self.data_dir / "postgres")
        self.temporal = TemporalDevServer(
            self.data_dir / "temporal",
            port=temporal_port,
            ui_port=ui_port,
            namespace=namespace,
            headless=headless,
            extra_args=temporal_extra_args,
        )
        self.client: Client | None = None
        self.watchdog: Watchdog | None = None
        self.startup_seconds: dict[str, float] = {}

    @property
    def database_url(self) -> str:
        return self.postgres.database_url

    @property
    def temporal_address(self) -> str:
        return self.temporal.address

    @property
    def notes(self) -> list[str]:
        """Leftovers of an earlier unclean stop that start found and cleaned up."""
        return [*self.postgres.notes, *self.temporal.notes]

    @property
    def ui_url(self) -> str | None:
        return self.temporal.ui_url

    def env(self) -> dict[str, str]:
        """CYTASKS_* variables that point a child process (API, worker) at this stack."""
        return {
            "CYTASKS_DATA_DIR": str(self.data_dir),
            "CYTASKS_DATABASE_URL": self.database_url,
            "CYTASKS_TEMPORAL_ADDRESS": self.temporal_address,
            "CYTASKS_TEMPORAL_NAMESPACE": self.namespace,
            "CYTASKS_BLOB_BACKEND": "file",
            "CYTASKS_BLOB_DIR": str(self.data_dir / "blobs"),
        }

    async def start(self) -> DevStack:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        try:
            self.watchdog = Watchdog.spawn(os.getpid(), self.postgres.data_dir, self.temporal.data_dir)

            async def start_postgres() -> None:
                t0 = time.monotonic()
                await self.postgres.start_async(self.startup_timeout)
                if self.migrate:
                    from persistence.migrate import upgrade

                    await asyncio.to_thread(upgrade, self.postgres.database_url)
                self.startup_seconds["postgres"] = time.monotonic() - t0

            async def start_temporal() -> None:
                t0 = time.monotonic()
                self.client = await self.temporal.start(self.startup_timeout)
                self.startup_seconds["temporal"] = time.monotonic() - t0

            await asyncio.gather(start_postgres(), start_temporal())
        except BaseException:
            await self.stop()
            raise
        self.startup_seconds["total"] = time.monotonic() - began
        logger.info("dev stack ready: %s", self.startup_seconds)
        return self

    async def stop(self) -> None:
        errors: list[BaseException] = []
        for stop in (self.temporal.stop, self.postgres.stop_async):
            try:
                await stop()
            except Exception as err:
                errors.append(err)
        self.client = None
        if self.watchdog is not None:
            self.watchdog.release()
            self.watchdog = None
        if errors:
            raise errors[0]

    async def __aenter__(self) -> DevStack:
        return await self.start()

    async def __aexit__(self, *exc_info) -> None:
        await self.stop()
