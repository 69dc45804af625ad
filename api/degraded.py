"""A dependency that is down (the database, Temporal) is answered 503 with `Retry-After`, not 500.

SQLAlchemy invalidates a connection that failed this way, and the engine pings connections
before use, so the first request after the database is back is served normally."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from temporalio.service import RPCError, RPCStatusCode

from .problems import ProblemError, _handle_problem

logger = logging.getLogger(__name__)

TEMPORAL_UNAVAILABLE = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED})


def _unavailable(request: Request, what: str, error: BaseException) -> ProblemError:
    logger.warning("%s unavailable on %s %s: %s", what, request.method, request.url.path, error)
    return ProblemError(503, "service-unavailable", f"The {what} is unavailable ({type(error).__name__}); retry later")


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    connection_lost = isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)) or (
        isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated
    )
    if not connection_lost:
        raise exc
    return await _handle_problem(request, _unavailable(request, "database", exc))


async def _temporal_error(request: Request, exc: RPCError) -> JSONResponse:
    if exc.status not in TEMPORAL_UNAVAILABLE:
        raise exc
    return await _handle_problem(request, _unavailable(request, "Temporal service", exc))


async def _connection_error(request: Request, exc: OSError) -> JSONResponse:
    return await _handle_problem(request, _unavailable(request, "database or Temporal service", exc))


async def _driver_connection_error(request: Request, exc: Exception) -> JSONResponse:
    return await _handle_problem(request, _unavailable(request, "database", exc))


def install_dependency_handlers(app: FastAPI) -> None:
    app.add_exception_handler(sa_exc.DBAPIError, _database_error)  # type: ignore[arg-type]
    app.add_exception_handler(sa_exc.TimeoutError, _database_error)  # type: ignore[arg-type]
    app.add_exception_handler(RPCError, _temporal_error)  # type: ignore[arg-type]
    # A connection that cannot even be opened: refused (ConnectionError), or a unix socket that is
    # gone while the server restarts (FileNotFoundError from asyncpg).
    app.add_exception_handler(OSError, _connection_error)  # type: ignore[arg-type]
    for error in _driver_connection_errors():
        app.add_exception_handler(error, _driver_connection_error)  # type: ignore[arg-type]


def _driver_connection_errors() -> tuple[type[Exception], ...]:
    """asyncpg's own errors for a server it cannot talk to (starting up, connection gone)."""
    import asyncpg

    return (
        asyncpg.exceptions.CannotConnectNowError,
        asyncpg.exceptions.ConnectionDoesNotExistError,
        asyncpg.exceptions.InterfaceError,
    )
