"""Request dependencies: the process state, a database session, the caller's API key and its
permission for the route, the trigger a client claims, and the task a path names."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import Task

from .authz import ROUTE_PERMISSIONS, V1_PREFIX, forbidden, may
from .problems import ProblemError
from .schemas import CLIENT_TRIGGERS, INT32_MAX
from .services.api_keys import find_key
from .services.submission import IDEMPOTENCY_HEADER
from .services.task_lookup import TaskRef, load_task
from .state import AppState, Principal, current_address, current_client, current_principal

MAX_WAIT_SECONDS = 60
"""The longest long poll (``?wait=``) of a run read."""
REPLAYED_HEADER = "Idempotent-Replayed"

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_HEADER,
        max_length=255,
        description="Retrying with the same key returns the run the first request created",
    ),
]

AUTH_CACHE_SECONDS = 1.0
"""A revoked or deleted key stops working on every API process within this long."""


async def get_state(request: Request) -> AppState:
    # Dependencies that do no blocking work are async: FastAPI runs a plain def in a thread.
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
    api_key = await find_key(session, key)
    if api_key is None:
        state.auth_cache.pop(cache_key, None)
        raise _unauthorized("The API key is not valid")
    principal = Principal(key_id=str(api_key.id), name=api_key.name, roles=tuple(api_key.roles or ()))
    state.auth_cache[cache_key] = (now + AUTH_CACHE_SECONDS, principal)
    return principal


PrincipalDep = Annotated[Principal, Depends(require_api_key)]


async def authorize(request: Request, principal: PrincipalDep) -> Principal:
    """The dependency of every ``/v1`` route: the caller's key must grant the route's permission."""
    route = request.scope.get("route")
    permission = ROUTE_PERMISSIONS.get((request.method, V1_PREFIX + getattr(route, "path_format", "")))
    if permission is None:
        raise ProblemError(403, "forbidden", "No role may use this route")
    if not may(principal, permission):
        raise forbidden(principal, permission)
    current_principal.set(principal)
    current_address.set(request.client.host if request.client else None)
    claimed = request.headers.get("x-cytasks-trigger", "").strip().lower()
    current_client.set(claimed if claimed in CLIENT_TRIGGERS else None)
    return principal


async def client_trigger(
    x_cytasks_trigger: Annotated[
        str | None,
        Header(
            description="Who starts the run: `cli`, `ui` or `mcp` (default: `api`, or `adhoc` for ad-hoc runs)",
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


async def task_ref(task_id: str, session: SessionDep) -> TaskRef:
    """The task a `{task_id}` path parameter names (an id or a cy_name), loaded on demand."""
    return TaskRef(ident=task_id, session=session)


TaskRefDep = Annotated[TaskRef, Depends(task_ref)]
"""For routes that validate more of the request first: ``await task.load()`` finds it (or 404)."""


async def task_by_ref(task_id: str, session: SessionDep) -> Task:
    """The task a `{task_id}` path parameter names; 404 when there is none."""
    return await load_task(session, task_id)


TaskDep = Annotated[Task, Depends(task_by_ref)]
"""For routes whose only other input is the path: the task, loaded before the route runs."""


async def version_pair(
    a: Annotated[int, Path(ge=1, le=INT32_MAX)], b: Annotated[int, Path(ge=1, le=INT32_MAX)]
) -> tuple[int, int]:
    """The `{a}` and `{b}` version numbers of a comparison."""
    return a, b


VersionPairDep = Annotated[tuple[int, int], Depends(version_pair)]
