"""Human-in-the-loop: list the questions paused runs ask, and answer them.

`POST /v1/task-runs/{id}/respond` validates the answer against the question, checks that
the caller may answer, marks the question answered atomically (a second answer gets 409),
audits it, then sends the run's workflow the `human_responded` signal."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from hitl.spec import may_answer, validate_answer
from persistence.repository import questions as question_repo
from persistence.repository import runs as run_repo
from persistence.repository.pagination import InvalidCursor

from ..services.auditing import audit
from ..deps import ClientTriggerDep, Principal, PrincipalDep, SessionDep, StateDep
from ..offload import off_loop
from ..problems import ProblemError, invalid_cursor, not_found, problem_responses
from ..route import CytasksRoute
from ..schemas import TERMINAL_STATUSES, Page
from ..services.task_lookup import task_filter

logger = logging.getLogger(__name__)

router = APIRouter(tags=["questions"], route_class=CytasksRoute)

MAX_LIMIT = 200
SIGNAL_NAME = "human_responded"
QUESTION_STATUSES = ("pending", "answered", "expired")


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


def _uuid_or_404(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise not_found(f"No {what} with id '{value}'") from None


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
    if status is not None and status not in QUESTION_STATUSES:
        raise ProblemError(
            422,
            "validation-error",
            f"status must be one of {', '.join(QUESTION_STATUSES)}, got {status!r}",
            errors=[{"field": "status", "in": "query", "message": f"must be one of {', '.join(QUESTION_STATUSES)}"}],
        )
    run_uuid = None
    if run is not None:
        try:
            run_uuid = uuid.UUID(run)
        except ValueError:
            raise ProblemError(
                422,
                "validation-error",
                f"run must be a run id (a UUID), got {run!r}",
                errors=[{"field": "run", "in": "query", "message": "must be a UUID"}],
            ) from None
    known, task_uuid = await task_filter(session, task)
    if not known:
        return {"items": [], "next_cursor": None}
    try:
        page = await question_repo.list_questions(
            session, status=status, task_id=task_uuid, run_id=run_uuid, assignee=assignee, cursor=cursor, limit=limit
        )
    except InvalidCursor as error:
        raise invalid_cursor(error) from error
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get(
    "/questions/{question_id}",
    response_model=QuestionRead,
    summary="Get a question",
    responses=problem_responses(404),
)
async def get_question(question_id: str, session: SessionDep) -> Any:
    question = await question_repo.get_question(session, _uuid_or_404(question_id, "question"))
    if question is None:
        raise not_found(f"No question with id '{question_id}'")
    return question


@router.get(
    "/task-runs/{run_id}/questions",
    response_model=RunQuestions,
    summary="The questions a run asked, in order",
    responses=problem_responses(404),
)
async def get_run_questions(run_id: str, session: SessionDep) -> Any:
    run = await run_repo.get_run(session, run_id)
    if run is None:
        raise not_found(f"No task run with id '{run_id}'")
    return {"run_id": run.id, "items": await question_repo.run_questions(session, run.id)}


async def _find_question(session: AsyncSession, run: Any, question_id: uuid.UUID | None) -> Any:
    if question_id is None:
        question = await question_repo.open_question_of_run(session, run.id)
        if question is None:
            raise ProblemError(
                409,
                "no-open-question",
                f"Run {run.id} is {run.status} and has no question waiting for an answer",
                run_status=run.status,
            )
        return question
    question = await question_repo.get_question(session, question_id)
    if question is None or question.run_id != run.id:
        raise ProblemError(
            404,
            "not-found",
            f"Run {run.id} has no question {question_id}",
            errors=[{"field": "question_id", "in": "body", "message": "not a question of this run"}],
        )
    return question


def _closed(question: Any) -> ProblemError:
    if question.status == "answered":
        detail = (
            f"Question {question.id} was already answered by {question.answered_by or 'someone'} "
            f"at {question.answered_at.isoformat() if question.answered_at else 'an earlier time'}"
        )
    else:
        detail = f"Question {question.id} has expired ({question.closed_reason or 'no answer in time'})"
    return ProblemError(409, "question-closed", detail, question_status=question.status, question_id=str(question.id))


async def _audit(session: AsyncSession, question: Any, body: RespondRequest, principal: Principal, source: str,
                 address: str | None, outcome: str, reason: str | None) -> None:
    await question_repo.audit_answer(
        session,
        question_id=question.id,
        run_id=question.run_id,
        answer=body.answer,
        answered_by=principal.name,
        source=source,
        client_address=address,
        outcome=outcome,
        reason=reason,
    )
    await audit(
        session, "question.answer", "question", question.id,
        outcome=outcome, details={"run_id": str(question.run_id), "answer": body.answer, "reason": reason},
    )
    await session.commit()


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
    run = await run_repo.get_run(session, run_id)
    if run is None:
        raise not_found(f"No task run with id '{run_id}'")
    question = await _find_question(session, run, body.question_id)
    source = client_trigger or "api"
    address = request.client.host if request.client else None
    if question.status != "pending":
        await _audit(session, question, body, principal, source, address, "conflict", f"question {question.status}")
        raise _closed(question)
    problems = await off_loop(
        validate_answer, {"responses": question.responses, "form": question.form}, body.answer
    )
    if problems:
        await _audit(session, question, body, principal, source, address, "invalid", problems[0]["message"])
        raise ProblemError(
            422,
            "invalid-answer",
            f"answer: {problems[0]['message']}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
            errors=[{**p, "field": "answer", "in": "body"} for p in problems],
            question_id=str(question.id),
        )
    override = False
    if not may_answer(question.assignees, principal.name, principal.roles) and "admin" in principal.roles:
        override = True
    elif not may_answer(question.assignees, principal.name, principal.roles):
        await _audit(session, question, body, principal, source, address, "forbidden", "not an assignee")
        raise ProblemError(
            403,
            "not-an-assignee",
            f"API key '{principal.name}' may not answer question {question.id}: it is assigned to "
            + ", ".join(question.assignees),
            assignees=list(question.assignees),
        )
    answered = await question_repo.answer_question(
        session, question.id, answer=body.answer, answered_by=principal.name, source=source
    )
    if answered is None:
        await session.rollback()
        current = await question_repo.get_question(session, question.id)
        await _audit(session, current, body, principal, source, address, "conflict", f"question {current.status}")
        raise _closed(current)
    await question_repo.audit_answer(
        session,
        question_id=question.id,
        run_id=question.run_id,
        answer=body.answer,
        answered_by=principal.name,
        source=source,
        client_address=address,
        outcome="accepted",
        reason="admin override: not an assignee" if override else None,
    )
    await audit(
        session, "question.answer", "question", question.id,
        details={"run_id": str(run.id), "answer": body.answer, "override": override},
    )
    # The workflow resumes on the signal without a database round trip of its own.
    await run_repo.set_run_status(session, run.id, "running")
    await session.commit()
    await _signal(state, session, answered, body, principal, source, address, run.workflow_id)
    response.headers["Location"] = f"/v1/questions/{answered.id}"
    return answered


async def _signal(state: Any, session: AsyncSession, question: Any, body: RespondRequest, principal: Principal,
                  source: str, address: str | None, workflow_id: str) -> None:
    """Deliver the answer to the run's workflow; when that is impossible, undo the answer."""
    from temporalio.service import RPCError

    payload = {
        "question_id": str(question.id),
        "answer": body.answer,
        "answered_by": principal.name,
        "source": source,
        "via_api": True,
    }
    try:
        client = await state.temporal_client()
        await client.get_workflow_handle(workflow_id).signal(SIGNAL_NAME, payload)
        return
    except RPCError as error:
        gone = error.status.name == "NOT_FOUND"
        failure: Exception = error
    except Exception as error:  # Temporal unreachable
        gone = False
        failure = error
    logger.warning("answer to question %s not delivered: %s", question.id, failure)
    if gone:
        await question_repo.expire_question(session, question.id, reason="run ended")
    elif await question_repo.reopen_question(session, question.id, answered_by=principal.name):
        await run_repo.set_run_status(session, question.run_id, "paused")
    await question_repo.audit_answer(
        session,
        question_id=question.id,
        run_id=question.run_id,
        answer=body.answer,
        answered_by=principal.name,
        source=source,
        client_address=address,
        outcome="undelivered",
        reason=f"{type(failure).__name__}: {failure}",
    )
    await session.commit()
    if gone:
        raise ProblemError(
            409, "question-closed", f"Run {question.run_id} is no longer running; question {question.id} expired"
        )
    raise ProblemError(
        503,
        "service-unavailable",
        f"The answer could not be delivered to run {question.run_id} ({type(failure).__name__}); "
        "the question is still open, try again",
        headers={"Retry-After": "5"},
    )
