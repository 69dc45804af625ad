"""Request dependencies: the process state, a database session and the caller's API key."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from settings import Settings

from . import runs_service
from .problems import ProblemError
from .schemas import CLIENT_TRIGGERS

AUTH_CACHE_SECONDS = 1.0
"""A revoked or deleted key stops working on every API process within this long."""


@dataclass
class AppState:
    """What the lifespan builds once per process and every request shares."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    blob_store: Any = None
    registry: Any = None
    temporal: Client | None = None
    auth_cache: dict[str, tuple[float, "Principal"]] = field(default_factory=dict)
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
                    self.temporal = await runs_service.connect_temporal(self.settings)
                except Exception as error:
                    raise ProblemError(
                        503,
                        "service-unavailable",
                        f"Temporal is unreachable at {self.settings.TEMPORAL_ADDRESS} ({type(error).__name__})",
                    ) from error
        return self.temporal


@dataclass(frozen=True)
class Principal:
    """The API key a request was made with."""

    key_id: str
    name: str
    roles: tuple[str, ...]


def get_state(request: Request) -> AppState:
    return request.app.state.cytasks


StateDep = Annotated[AppState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    async with state.sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="An API key: `Authorization: Bearer <key>`",
)


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


async def require_api_key(
    state: StateDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise _unauthorized("Send an API key as 'Authorization: Bearer <key>'")
    key = credentials.credentials
    cache_key = hashlib.sha256(key.encode()).hexdigest()
    cached = state.auth_cache.get(cache_key)
    now = time.monotonic()
    if cached is not None and cached[0] > now:
        return cached[1]
    from persistence.repository.api_keys import find_api_key

    api_key = await find_api_key(session, key)
    if api_key is None:
        state.auth_cache.pop(cache_key, None)
        raise _unauthorized("The API key is not valid")
    principal = Principal(key_id=str(api_key.id), name=api_key.name, roles=tuple(api_key.roles or ()))
    state.auth_cache[cache_key] = (now + AUTH_CACHE_SECONDS, principal)
    return principal


PrincipalDep = Annotated[Principal, Depends(require_api_key)]


def client_trigger(
    x_cytasks_trigger: Annotated[
        str | None,
        Header(
            description="Who starts the run: `cli` or `ui` (default: `api`, or `adhoc` for ad-hoc runs)",
            json_schema_extra={"enum": list(CLIENT_TRIGGERS)},
        ),
    ] = None,
) -> str | None:
    if x_cytasks_trigger is None or x_cytasks_trigger == "":
        return None
    value = x_cytasks_trigger.strip().lower()
    if value not in CLIENT_TRIGGERS:
        raise ProblemError(
            422,
            "validation-error",
            f"X-Cytasks-Trigger must be one of {', '.join(CLIENT_TRIGGERS)}, got {x_cytasks_trigger!r}",
            errors=[
                {
                    "field": "X-Cytasks-Trigger",
                    "in": "header",
                    "message": f"must be one of {', '.join(CLIENT_TRIGGERS)}",
                }
            ],
        )
    return value


ClientTriggerDep = Annotated[str | None, Depends(client_trigger)]
