"""The FastAPI application: `create_app()` builds it; `uvicorn --factory api.main:create_app` serves it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from temporalio.client import Client

from activities import metrics as run_metrics

from persistence.run_notifications import RunEndListener
from settings import Settings, get_settings

from .degraded import install_dependency_handlers
from .deps import authorize, require_api_key
from .docs_assets import install_docs
from .http_metrics import HttpMetrics
from .mcp.http import install_mcp, serving
from .problems import install_problem_handlers, install_problem_openapi, problem_responses
from .route import CytasksRoute
from .services import runs as run_engine
from .services.api_keys import ensure_bootstrap_key
from .services.schedules import reconcile_in_background
from .state import AppState
from .routes import (
    audit,
    events,
    health,
    hooks,
    keys,
    metrics,
    questions,
    runs,
    schedules,
    scripts,
    stats,
    task_testing,
    tasks,
    workflows,
)
from .text_params import reject_nul_text
from .ui import install_console

logger = logging.getLogger(__name__)

BOOTSTRAP_RETRY_SECONDS = 2.0

DESCRIPTION = """
Create **tasks** (saved Cy scripts), run them as Temporal workflows and read their results.

Every endpoint except `/healthz` and `/readyz` needs `Authorization: Bearer <API key>`.
Errors are [RFC 9457](https://www.rfc-editor.org/rfc/rfc9457) problem documents
(`application/problem+json`) with a stable `type` URI under `https://cytasks.dev/problems/`.
"""


async def _keep_trying_bootstrap_key(state: AppState) -> None:
    while True:
        await asyncio.sleep(BOOTSTRAP_RETRY_SECONDS)
        try:
            await ensure_bootstrap_key(state)
        except Exception as error:
            logger.warning("bootstrap API key not stored yet: %s", error)
            continue
        logger.info("bootstrap API key stored")
        return


def _engine(settings: Settings):
    """The app's own engine, on the configured driver, with a connect and a pool timeout so a
    database outage is answered 503 quickly, and connections checked before use."""
    from persistence.db import async_engine_options

    url, options = async_engine_options(settings.DATABASE_URL, settings.DATABASE_DRIVER)
    timeout_arg = "timeout" if settings.DATABASE_DRIVER == "asyncpg" else "connect_timeout"
    options["connect_args"][timeout_arg] = settings.DATABASE_CONNECT_TIMEOUT_SECONDS
    options.update(
        pool_size=settings.DATABASE_POOL_SIZE,
        max_overflow=settings.DATABASE_MAX_OVERFLOW,
        pool_pre_ping=True,
        pool_timeout=settings.DATABASE_POOL_TIMEOUT_SECONDS,
    )
    return create_async_engine(url, **options)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    from storage import make_blob_store

    settings: Settings = app.state.settings
    # The app owns its engine (bound to the loop serving it) and disposes of it on shutdown.
    engine = _engine(settings)
    state = AppState(
        settings=settings,
        sessionmaker=async_sessionmaker(engine, expire_on_commit=False, autoflush=False),
        blob_store=make_blob_store(settings),
    )
    background: list[asyncio.Task[None]] = []

    if settings.API_KEY:
        try:
            await ensure_bootstrap_key(state)
        except Exception as error:
            logger.warning("database unavailable at startup, will retry storing the bootstrap key: %s", error)
            background.append(asyncio.create_task(_keep_trying_bootstrap_key(state)))

    state.registry = await asyncio.to_thread(run_engine.load_registry)
    try:
        state.temporal = app.state.temporal_client or await run_engine.connect_temporal(settings)
    except Exception as error:
        logger.warning("Temporal unreachable at %s (will retry on demand): %s", settings.TEMPORAL_ADDRESS, error)

    state.run_ends = RunEndListener(settings.DATABASE_URL, settings.DATABASE_DRIVER)
    state.run_ends.start()
    app.state.cytasks = state
    app.state.schedule_reconciliation = asyncio.create_task(reconcile_in_background(state))
    background.append(app.state.schedule_reconciliation)
    try:
        async with serving(app.state.mcp):
            yield
    finally:
        for task in background:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        await state.run_ends.stop()
        await engine.dispose()


def create_app(settings: Settings | None = None, temporal_client: Client | None = None) -> FastAPI:
    """The API application. ``temporal_client`` lets a process that also hosts a worker share
    its client, so runs start eagerly on that worker without a round trip through the queue."""
    app = FastAPI(
        title="cytasks",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        dependencies=[Depends(reject_nul_text)],
    )
    app.state.settings = settings or get_settings()
    app.state.temporal_client = temporal_client
    install_problem_handlers(app)
    install_dependency_handlers(app)
    install_problem_openapi(app)
    install_docs(app)

    app.include_router(health.router)
    app.include_router(metrics.router)
    v1 = APIRouter(
        prefix="/v1",
        dependencies=[Depends(require_api_key), Depends(authorize)],
        route_class=CytasksRoute,
        responses=problem_responses(401, 403, 422, 500, 503),
    )
    v1.include_router(tasks.router)
    v1.include_router(task_testing.router)
    v1.include_router(scripts.router)
    v1.include_router(runs.router)
    v1.include_router(questions.router)
    v1.include_router(schedules.router)
    v1.include_router(keys.router)
    v1.include_router(audit.router)
    v1.include_router(workflows.router)
    v1.include_router(stats.router)
    v1.include_router(hooks.router)
    v1.include_router(events.router)
    app.include_router(v1)
    app.include_router(
        hooks.deliveries,
        prefix="/v1",
        responses=problem_responses(500),
    )
    app.state.mcp = install_mcp(app)
    install_console(app)
    run_metrics.install()
    app.add_middleware(HttpMetrics)
    return app
