"""Questions asked by paused runs, and the audit of their answers.

Every state change is a conditional UPDATE on ``status = 'pending'``: a question is
answered or expired exactly once, whoever gets there first (API, signal, timer)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.ids import created_at_from_run_id
from persistence.models import QUESTION_STATUSES, AnswerAudit, Question
from persistence.repository.pagination import Page, before_cursor, clamp_limit, page_from_rows

_questions = Question.__table__
AUDIT_OUTCOMES = ("accepted", "invalid", "forbidden", "conflict", "undelivered")


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _time(value: datetime | str | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


async def create_question(session: AsyncSession, question: dict[str, Any]) -> bool:
    """Insert a question (a ``hitl`` question dict). A repeated insert of the same id changes
    nothing (the local activity that records it may run twice); returns whether it was new."""
    run_id = _uuid(question["run_id"])
    values = {
        "id": _uuid(question["id"]),
        "run_id": run_id,
        "run_created_at": created_at_from_run_id(run_id),
        "task_id": _uuid(question["task_id"]) if question.get("task_id") else None,
        "tool": question["tool"],
        "line": question.get("line") or 0,
        "column": question.get("column") or 0,
        "question": question["question"],
        "responses": question.get("responses"),
        "form": question.get("form"),
        "assignees": list(question.get("assignees") or []),
        "timeout_seconds": question.get("timeout_seconds"),
        "default": question.get("default"),
        "has_default": bool(question.get("has_default")),
        "details": question.get("details") or None,
        "status": "pending",
        "created_at": _time(question.get("created_at")) or datetime.now(UTC),
        "timeout_at": _time(question.get("timeout_at")),
    }
    statement = pg_insert(Question).values(**values).on_conflict_do_nothing(index_elements=[Question.id])
    return (await session.execute(statement)).rowcount == 1


async def get_question(session: AsyncSession, question_id: uuid.UUID | str) -> Question | None:
    try:
        question_id = _uuid(question_id)
    except ValueError:
        return None
    statement = select(Question).where(Question.id == question_id).execution_options(populate_existing=True)
    return (await session.execute(statement)).scalar_one_or_none()


async def list_questions(
    session: AsyncSession,
    *,
    status: str | Sequence[str] | None = None,
    task_id: uuid.UUID | None = None,
    run_id: uuid.UUID | None = None,
    assignee: str | Sequence[str] | None = None,
    cursor: str | None = None,
    limit: int | None = 50,
) -> Page[Question]:
    """Newest first, keyset-paginated on (created_at, id). ``assignee``: questions that name it
    (any of them, when several names or roles are given)."""
    limit = clamp_limit(limit)
    statement = select(Question)
    if status:
        statuses = [status] if isinstance(status, str) else list(status)
        statement = statement.where(Question.status.in_(statuses))
    if task_id is not None:
        statement = statement.where(Question.task_id == task_id)
    if run_id is not None:
        statement = statement.where(Question.run_id == run_id)
    if assignee:
        names = [assignee] if isinstance(assignee, str) else list(assignee)
        statement = statement.where(Question.assignees.overlap(names))
    if cursor:
        statement = statement.where(before_cursor(Question.created_at, Question.id, cursor))
    statement = statement.order_by(Question.created_at.desc(), Question.id.desc()).limit(limit + 1)
    rows = list((await session.execute(statement.execution_options(populate_existing=True))).scalars())
    return page_from_rows(rows, limit)


async def run_questions(session: AsyncSession, run_id: uuid.UUID | str) -> list[Question]:
    """A run's questions, in the order they were asked."""
    statement = (
        select(Question)
        .where(Question.run_id == _uuid(run_id))
        .order_by(Question.created_at, Question.id)
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(statement)).scalars())


async def open_question_of_run(session: AsyncSession, run_id: uuid.UUID | str) -> Question | None:
    statement = (
        select(Question)
        .where(Question.run_id == _uuid(run_id), Question.status == "pending")
        .order_by(Question.created_at.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def answer_question(
    session: AsyncSession,
    question_id: uuid.UUID | str,
    *,
    answer: Any,
    answered_by: str | None,
    source: str,
    answered_at: datetime | None = None,
) -> Question | None:
    """pending -> answered, atomically. None when the question is not pending (any more)."""
    statement = (
        update(Question)
        .where(Question.id == _uuid(question_id), Question.status == "pending")
        .values(
            status="answered",
            answer=answer,
            answered_by=answered_by,
            answered_at=answered_at or func.now(),
            answer_source=source,
        )
        .returning(Question)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def reopen_question(session: AsyncSession, question_id: uuid.UUID | str, *, answered_by: str | None) -> bool:
    """Undo an answer the workflow never received (the signal could not be delivered)."""
    statement = (
        update(_questions)
        .where(
            _questions.c.id == _uuid(question_id),
            _questions.c.status == "answered",
            _questions.c.answered_by.is_not_distinct_from(answered_by),
        )
        .values(status="pending", answer=None, answered_by=None, answered_at=None, answer_source=None)
    )
    return (await session.execute(statement)).rowcount == 1


async def expire_question(
    session: AsyncSession, question_id: uuid.UUID | str, *, reason: str, closed_at: datetime | None = None
) -> bool:
    """pending -> expired. False when it was already answered or expired."""
    statement = (
        update(_questions)
        .where(_questions.c.id == _uuid(question_id), _questions.c.status == "pending")
        .values(status="expired", closed_reason=reason, closed_at=closed_at or func.now())
    )
    return (await session.execute(statement)).rowcount == 1


async def record_notification(
    session: AsyncSession, question_id: uuid.UUID | str, notification: dict[str, Any]
) -> None:
    await session.execute(
        update(_questions).where(_questions.c.id == _uuid(question_id)).values(notification=notification)
    )


async def audit_answer(
    session: AsyncSession,
    *,
    question_id: uuid.UUID | str,
    run_id: uuid.UUID | str,
    answer: Any,
    answered_by: str | None,
    source: str,
    outcome: str,
    client_address: str | None = None,
    reason: str | None = None,
) -> None:
    if outcome not in AUDIT_OUTCOMES:
        raise ValueError(f"unknown audit outcome {outcome!r}")
    await session.execute(
        insert(AnswerAudit).values(
            question_id=_uuid(question_id),
            run_id=_uuid(run_id),
            answer=answer,
            answered_by=answered_by,
            source=source,
            client_address=client_address,
            outcome=outcome,
            reason=reason,
        )
    )


async def answer_audit(session: AsyncSession, question_id: uuid.UUID | str) -> list[AnswerAudit]:
    statement = (
        select(AnswerAudit).where(AnswerAudit.question_id == _uuid(question_id)).order_by(AnswerAudit.id)
    )
    return list((await session.execute(statement)).scalars())


__all__ = [
    "AUDIT_OUTCOMES",
    "QUESTION_STATUSES",
    "answer_audit",
    "answer_question",
    "audit_answer",
    "create_question",
    "expire_question",
    "get_question",
    "list_questions",
    "open_question_of_run",
    "record_notification",
    "reopen_question",
    "run_questions",
]
