"""Run statistics: of one task (`/v1/tasks/{id}/stats`) and of all runs (`/v1/stats`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from ..deps import SessionDep, TaskRefDep
from ..presenters import stats_resource
from ..problems import problem_responses
from ..route import CytasksRoute
from ..schemas import RunStatsRead, StatsWindow
from ..services import stats as run_stats

router = APIRouter(tags=["stats"], route_class=CytasksRoute)

WINDOW_QUERY = Query(
    default=StatsWindow.h24,
    description="24h (hourly series, ending with the current hour) or 7d / 30d (daily series, UTC days)"
)


@router.get(
    "/tasks/{task_id}/stats",
    response_model=RunStatsRead,
    summary="Run statistics of a task",
    responses=problem_responses(404),
)
async def task_stats(task: TaskRefDep, session: SessionDep, window: StatsWindow = WINDOW_QUERY) -> Any:
    found = await task.load()
    return stats_resource(await run_stats.run_stats(session, window.value, found))


@router.get("/stats", response_model=RunStatsRead, summary="Run statistics of all tasks")
async def all_stats(session: SessionDep, window: StatsWindow = WINDOW_QUERY) -> Any:
    return stats_resource(await run_stats.run_stats(session, window.value))
