"""Embedded PostgreSQL from the pgserver wheel, reached over a unix socket."""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psycopg

from devstack.leftovers import prune_postgres_handles

logger = logging.getLogger(__name__)

DEFAULT_DATABASE = "cytasks"


def sqlalchemy_url_for_socket(socket_dir: Path | str, database: str, user: str = "postgres") -> str:
    """A `postgresql+asyncpg://` URL for a server listening on a unix socket in `socket_dir`.

    persistence.db rewrites it for psycopg where a synchronous engine needs it."""
    return f"postgresql+asyncpg://{user}@/{database}?host={quote(str(socket_dir), safe='/')}"


def libpq_url(sqlalchemy_url: str) -> str:
    """The same URL without the SQLAlchemy driver suffix, for psycopg or psql."""
    scheme, rest = sqlalchemy_url.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


@dataclass
class EmbeddedPostgres:
    """One pgserver-managed PostgreSQL cluster in `data_dir`.

    Starting again on the same directory reuses the cluster (and a server left running by a
    process that died is adopted rather than duplicated)."""

    data_dir: Path
    database: str = DEFAULT_DATABASE
    _server: object | None = field(default=None, init=False, repr=False)
    _socket_dir: Path | None = field(default=None, init=False, repr=False)
    notes: list[str] = field(default_factory=list, init=False)
    """What start found and repaired, e.g. holders of the server that had died."""

    @property
    def database_url(self) -> str:
        if self._socket_dir is None:
            raise RuntimeError("PostgreSQL is not started")
        return sqlalchemy_url_for_socket(self._socket_dir, self.database)

    @property
    def pid(self) -> int | None:
        if self._server is None:
            return None
        return self._server.get_pid()  # type: ignore[attr-defined]

    def start(self, timeout: float = 60.0) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # XDG_RUNTIME_DIR unset: pgserver falls back to /tmp
            import pgserver

        self.data_dir = Path(self.data_dir).expanduser().resolve()
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        stale, _holding = prune_postgres_handles(self.data_dir)
        if stale:
            self.notes.append(
                f"forgot {len(stale)} dead holder(s) of the embedded Postgres ({', '.join(map(str, stale))})"
            )
            logger.warning(self.notes[-1])
        server = pgserver.get_server(self.data_dir, cleanup_mode="stop")
        self._server = server
        info = server.get_postmaster_info()
        if info.socket_dir is None:
            raise RuntimeError(f"embedded PostgreSQL in {self.data_dir} is not listening on a unix socket")
        self._socket_dir = Path(info.socket_dir)
        self._create_database(timeout=max(1.0, timeout - (time.monotonic() - started)))
        logger.info("PostgreSQL ready in %.2fs at %s", time.monotonic() - started, self._socket_dir)
        return self.database_url

    def _create_database(self, timeout: float) -> None:
        admin_url = libpq_url(sqlalchemy_url_for_socket(self._socket_dir, "postgres"))
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
                    exists = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
                    ).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{self.database}"')
                return
            except psycopg.errors.DuplicateDatabase:
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.cleanup()  # type: ignore[attr-defined]
        self._socket_dir = None

    async def start_async(self, timeout: float = 60.0) -> str:
        return await asyncio.to_thread(self.start, timeout)

    async def stop_async(self) -> None:
        await asyncio.to_thread(self.stop)
