"""What one API process holds (`AppState`) and who the current request is from (`Principal`,
and the request context the audit log reads)."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from cy.tools import ToolRegistry
from persistence.run_notifications import RunEndListener
from settings import Settings
from storage.blobs import BlobStore

from .problems import ProblemError
from .services import runs as run_engine


@dataclass(frozen=True)
class Principal:
    """The API key a request was made with."""

    key_id: str
    name: str
    roles: tuple[str, ...]


current_principal: ContextVar[Principal | None] = ContextVar("cytasks_principal", default=None)
"""The authorized caller of the request being served (set by `authz.authorize`)."""
current_address: ContextVar[str | None] = ContextVar("cytasks_client_address", default=None)
"""The client address of the request being served."""
current_client: ContextVar[str | None] = ContextVar("cytasks_client", default=None)
"""The client the request names with ``X-Cytasks-Trigger`` (``cli``, ``ui``, ``mcp``), if any."""


@dataclass
class AppState:
    """What the lifespan builds once per process and every request shares."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    blob_store: BlobStore | None = None
    registry: ToolRegistry | None = None
    temporal: Client | None = None
    run_ends: RunEndListener | None = None
    """Wakes long polls when a run's end is committed (None: they wait on the workflow only)."""
    auth_cache: dict[str, tuple[float, Principal]] = field(default_factory=dict)
    _temporal_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    compile_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))
    """One compile at a time: concurrent compiles compete with the event loop for the GIL."""

    async def temporal_client(self) -> Client:
        """The Temporal client, connecting now if the server was unreachable at startup."""
        if self.temporal is not None:
            return self.temporal
        async with self._temporal_lock:
            if self.temporal is None:
                try:
                    self.temporal = await run_engine.connect_temporal(self.settings)
                except Exception as error:
                    raise ProblemError(
                        503,
                        "service-unavailable",
                        f"Temporal is unreachable at {self.settings.TEMPORAL_ADDRESS} ({type(error).__name__})",
                    ) from error
        return self.temporal
