"""Human-in-the-loop questions: list and read them, and answer one.

An answer is validated against the question, the caller must be one of its assignees (an admin
may override), the question is marked answered atomically (a second answer gets 409), every
attempt is audited, and the answer is then signalled to the run's workflow; when it cannot be
delivered the answer is undone (the question reopened, or expired when the run is gone)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hitl.spec import may_answer, validate_answer
from persistence.models import Question, TaskRun
from persistence.repository import questions as question_repo
from persistence.repository import runs as run_repo
from persistence.repository.pagination import InvalidCursor, Page

from ..offload import off_loop
from ..problems import ProblemError, invalid_cursor, not_found
from ..state import AppState, Principal
from . import runs as run_engine
from .auditing import audit
from .run_history import load_run
from .task_lookup import task_filter

logger = logging.getLogger(__name__)

QUESTION_STATUSES = ("pending", "answered", "expired")


def _uuid_or_404(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise not_found(f"No {what} with id '{value}'") from None


async def list_questions(
    session: AsyncSession,
    *,
    status: str | None,
    task: str | None,
    run: str | None,
    assignee: str | None,
    cursor: str | None,
    limit: int,
) -> Page[Question]:
    """Questions newest first; an empty page when ``task`` names no task."""
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
        return Page(items=[], next_cursor=None)
    try:
        return await question_repo.list_questions(
            session, status=status, task_id=task_uuid, run_id=run_uuid, assignee=assignee, cursor=cursor, limit=limit
        )
    except InvalidCursor as error:
        raise invalid_cursor(error) from error


async def get_question(session: AsyncSession, question_id: str) -> Question:
    question = await question_repo.get_question(session, _uuid_or_404(question_id, "question"))
    if question is None:
        raise not_found(f"No question with id '{question_id}'")
    return question


async def run_questions(session: AsyncSession, run_id: str) -> tuple[TaskRun, list[Question]]:
    """The run and the questions it asked, in order."""
    run = await load_run(session, run_id)
    return run, await question_repo.run_questions(session, run.id)


async def _find_question(session: AsyncSession, run: TaskRun, question_id: uuid.UUID | None) -> Question:
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


def _closed(question: Question) -> ProblemError:
    if question.status == "answered":
        detail = (
            f"Question {question.id} was already answered by {question.answered_by or 'someone'} "
            f"at {question.answered_at.isoformat() if question.answered_at else 'an earlier time'}"
        )
    else:
        detail = f"Question {question.id} has expired ({question.closed_reason or 'no answer in time'})"
    return ProblemError(409, "question-closed", detail, question_status=question.status, question_id=str(question.id))


class _Attempt:
    """One answer as given: what, by whom, through which client, from where."""

    def __init__(self, answer: Any, principal: Principal, source: str, address: str | None) -> None:
        self.answer = answer
        self.principal = principal
        self.source = source
        self.address = address

    async def record(self, session: AsyncSession, question: Question, outcome: str, reason: str | None) -> None:
        """Audit an attempt that changed nothing, and commit."""
        await self.record_answer_audit(session, question, outcome, reason)
        await audit(
            session, "question.answer", "question", question.id,
            outcome=outcome, details={"run_id": str(question.run_id), "answer": self.answer, "reason": reason},
        )
        await session.commit()

    async def record_answer_audit(self, session: AsyncSession, question: Question, outcome: str, reason: str | None) -> None:
        await question_repo.audit_answer(
            session,
            question_id=question.id,
            run_id=question.run_id,
            answer=self.answer,
            answered_by=self.principal.name,
            source=self.source,
            client_address=self.address,
            outcome=outcome,
            reason=reason,
        )


async def answer(
    state: AppState,
    session: AsyncSession,
    principal: Principal,
    run_id: str,
    *,
    answer: Any,
    question_id: uuid.UUID | None,
    source: str,
    address: str | None,
) -> Question:
    """Answer the run's open question (or ``question_id``) and resume the run; the answered question."""
    run = await load_run(session, run_id)
    question = await _find_question(session, run, question_id)
    attempt = _Attempt(answer, principal, source, address)
    if question.status != "pending":
        await attempt.record(session, question, "conflict", f"question {question.status}")
        raise _closed(question)
    problems = await off_loop(
        validate_answer, {"responses": question.responses, "form": question.form}, answer
    )
    if problems:
        await attempt.record(session, question, "invalid", problems[0]["message"])
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
        await attempt.record(session, question, "forbidden", "not an assignee")
        raise ProblemError(
            403,
            "not-an-assignee",
            f"API key '{principal.name}' may not answer question {question.id}: it is assigned to "
            + ", ".join(question.assignees),
            assignees=list(question.assignees),
        )
    answered = await question_repo.answer_question(
        session, question.id, answer=answer, answered_by=principal.name, source=source
    )
    if answered is None:
        await session.rollback()
        current = await question_repo.get_question(session, question.id)
        await attempt.record(session, current, "conflict", f"question {current.status}")
        raise _closed(current)
    await attempt.record_answer_audit(
        session, question, "accepted", "admin override: not an assignee" if override else None
    )
    await audit(
        session, "question.answer", "question", question.id,
        details={"run_id": str(run.id), "answer": answer, "override": override},
    )
    # The workflow resumes on the signal without a database round trip of its own.
    await run_repo.set_run_status(session, run.id, "running")
    await session.commit()
    await _deliver(state, session, answered, attempt, run.workflow_id)
    return answered


async def _deliver(
    state: AppState, session: AsyncSession, question: Question, attempt: _Attempt, workflow_id: str | None
) -> None:
    """Signal the answer to the run's workflow; when that is impossible, undo the answer."""
    payload = {
        "question_id": str(question.id),
        "answer": attempt.answer,
        "answered_by": attempt.principal.name,
        "source": attempt.source,
        "via_api": True,
    }
    try:
        client = await state.temporal_client()
        await run_engine.send_answer(client, workflow_id, payload)
        return
    except run_engine.WorkflowGone as error:
        gone = True
        failure: Exception = error.cause
    except Exception as error:  # Temporal unreachable
        gone = False
        failure = error
    logger.warning("answer to question %s not delivered: %s", question.id, failure)
    if gone:
        await question_repo.expire_question(session, question.id, reason="run ended")
    elif await question_repo.reopen_question(session, question.id, answered_by=attempt.principal.name):
        await run_repo.set_run_status(session, question.run_id, "paused")
    await attempt.record_answer_audit(session, question, "undelivered", f"{type(failure).__name__}: {failure}")
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
