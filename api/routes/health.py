"""Open endpoints for process supervisors: liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import StateDep
from ..problems import ProblemError, problem_responses
from ..route import CytasksRoute
from ..schemas import Health
from ..services import readiness

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
    checks = await readiness.dependency_statuses(state)
    if any(value != "ok" for value in checks.values()):
        failing = ", ".join(name for name, value in checks.items() if value != "ok")
        raise ProblemError(503, "service-unavailable", f"Not ready: {failing} unreachable", checks=checks)
    return Health(status="ok", checks=checks)
