"""/v1/tasks/{id}/test, /replay and /replay-batch: a task's version (or an unsaved script) run
on samples or on recorded runs, with canned tool results; nothing runs for real."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..deps import PrincipalDep, SessionDep, StateDep, TaskRefDep
from ..problems import problem_responses
from ..route import CytasksRoute
from ..schemas import (
    ReplayBatchReport,
    ReplayBatchRequest,
    ReplayReport,
    ReplayRequest,
    TaskTestReport,
    TaskTestRequest,
)
from ..services import task_testing

router = APIRouter(prefix="/tasks", tags=["task testing"], route_class=CytasksRoute)


@router.post(
    "/{task_id:task_ref}/test",
    response_model=TaskTestReport,
    summary="Run samples on a version or an unsaved script, tools answered from the samples' tool_results",
    responses=problem_responses(404, 422),
)
async def test_task(task: TaskRefDep, body: TaskTestRequest, session: SessionDep, state: StateDep) -> Any:
    return await task_testing.test_task(
        state, session, task, version=body.version, script=body.script, samples=body.samples
    )


@router.post(
    "/{task_id:task_ref}/replay",
    response_model=ReplayReport,
    summary="Replay a finished run against a version or an unsaved script, with the run's recorded tool results",
    responses=problem_responses(403, 404, 409, 422, 503),
)
async def replay_run(
    task: TaskRefDep, body: ReplayRequest, session: SessionDep, state: StateDep, principal: PrincipalDep
) -> Any:
    return await task_testing.replay(
        state, session, principal, task, run_id=body.run_id, version=body.version, script=body.script
    )


@router.post(
    "/{task_id:task_ref}/replay-batch",
    response_model=ReplayBatchReport,
    summary="Replay the task's last completed runs (or those of a time range) and summarise what changes",
    responses=problem_responses(403, 404, 422, 503),
)
async def replay_batch(
    task: TaskRefDep, body: ReplayBatchRequest, session: SessionDep, state: StateDep, principal: PrincipalDep
) -> Any:
    return await task_testing.replay_batch(
        state,
        session,
        principal,
        task,
        version=body.version,
        script=body.script,
        last=body.last,
        created_after=body.created_after,
        created_before=body.created_before,
    )
