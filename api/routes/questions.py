"""Human-in-the-loop: list the questions paused runs ask, and answer them.

`POST /v1/task-runs/{id}/respond` validates the answer against the question, checks that
the caller may answer, marks the question answered atomically (a second answer gets 409),
audits it, then sends the run's workflow the `human_responded` signal."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ..deps import ClientTriggerDep, PrincipalDep, SessionDep, StateDep
from ..presenters import page, run_questions_resource
from ..problems import problem_responses
from ..route import CytasksRoute
from ..schemas import Page
from ..services import questions as question_service
from ..services.questions import QUESTION_STATUSES

router = APIRouter(tags=["questions"], route_class=CytasksRoute)

MAX_LIMIT = 200


class QuestionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    run_id: uuid.UUID
    task_id: uuid.UUID | None = None
    tool: str
    line: int
    column: int
    question: str
    responses: list[Any] | None = None
    form: dict[str, Any] | None = None
    assignees: list[str] = Field(default_factory=list)
    timeout_seconds: float | None = None
    default: Any = None
    has_default: bool = False
    details: dict[str, Any] | None = None
    status: str = Field(description="pending, answered or expired")
    created_at: datetime
    timeout_at: datetime | None = None
    answer: Any = None
    answered_by: str | None = None
    answered_at: datetime | None = None
    answer_source: str | None = None
    closed_at: datetime | None = None
    closed_reason: str | None = None
    notification: dict[str, Any] | None = None


class RespondRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: Any = Field(..., description="One of the question's `responses`, or a value matching its `form`")
    question_id: uuid.UUID | None = Field(
        default=None, description="The question answered (default: the run's open question)"
    )


class RunQuestions(BaseModel):
    run_id: uuid.UUID
    items: list[QuestionRead]


@router.get(
    "/questions",
    response_model=Page[QuestionRead],
    summary="List questions asked by runs, newest first",
    responses=problem_responses(400),
)
async def list_questions(
    session: SessionDep,
    status: Annotated[
        str | None, Query(description="pending, answered or expired", json_schema_extra={"enum": list(QUESTION_STATUSES)})
    ] = None,
    task: Annotated[str | None, Query(description="Task id or cy_name")] = None,
    run: Annotated[str | None, Query(description="Run id", json_schema_extra={"format": "uuid"})] = None,
    assignee: Annotated[str | None, Query(description="An API key name or role the question is assigned to")] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Any:
    found = await question_service.list_questions(
        session, status=status, task=task, run=run, assignee=assignee, cursor=cursor, limit=limit
    )
    return page(found.items, found.next_cursor)


@router.get(
    "/questions/{question_id}",
    response_model=QuestionRead,
    summary="Get a question",
    responses=problem_responses(404),
)
async def get_question(question_id: str, session: SessionDep) -> Any:
    return await question_service.get_question(session, question_id)


@router.get(
    "/task-runs/{run_id}/questions",
    response_model=RunQuestions,
    summary="The questions a run asked, in order",
    responses=problem_responses(404),
)
async def get_run_questions(run_id: str, session: SessionDep) -> Any:
    run, questions = await question_service.run_questions(session, run_id)
    return run_questions_resource(run, questions)


@router.post(
    "/task-runs/{run_id}/respond",
    status_code=202,
    response_model=QuestionRead,
    summary="Answer the question a paused run is waiting on",
    responses=problem_responses(403, 404, 409, 422, 503),
)
async def respond(
    run_id: str,
    body: RespondRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
    client_trigger: ClientTriggerDep,
) -> Any:
    answered = await question_service.answer(
        state,
        session,
        principal,
        run_id,
        answer=body.answer,
        question_id=body.question_id,
        source=client_trigger or "api",
        address=request.client.host if request.client else None,
    )
    response.headers["Location"] = f"/v1/questions/{answered.id}"
    return answered
