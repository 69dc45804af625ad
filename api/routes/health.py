"""Open endpoints for process supervisors: liveness and readiness."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from sqlalchemy import text

from ..deps import StateDep
from ..problems import ProblemError, problem_responses
from ..route import CytasksRoute
from ..schemas import Health
from ..services import runs as run_engine

router = APIRouter(tags=["health"], route_class=CytasksRoute, responses=problem_responses(422, 500))


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="The database and Temporal are reachable",
    responses=problem_responses(503),
)
async def readyz(state: StateDep) -> Health:
    async def database() -> str:
        try:
            async with state.sessionmaker() as session:
                await asyncio.wait_for(session.execute(text("SELECT 1")), timeout=3.0)
        except Exception as error:
            return f"unavailable: {type(error).__name__}"
        return "ok"

    async def temporal() -> str:
        try:
            client = await state.temporal_client()
        except Exception as error:
            return f"unavailable: {type(error).__name__}"
        return "ok" if await run_engine.temporal_reachable(client) else "unavailable"

    db_status, temporal_status = await asyncio.gather(database(), temporal())
    checks = {"database": db_status, "temporal": temporal_status}
    if any(value != "ok" for value in checks.values()):
        failing = ", ".join(name for name, value in checks.items() if value != "ok")
        raise ProblemError(503, "service-unavailable", f"Not ready: {failing} unreachable", checks=checks)
    return Health(status="ok", checks=checks)
