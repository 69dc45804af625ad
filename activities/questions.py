"""HITL bookkeeping (local activities) and question notification (a normal, retried activity)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from temporalio import activity

from cy.tools import ToolRegistry
from hitl.notifiers import deliver, notice, resolve_notifier
from integrations.registry import get_registry
from persistence.db import get_sessionmaker
from persistence.repository import audit as audit_repo
from persistence.repository import questions as question_repo
from persistence.repository.events import question_alerts_of, subscribers_of
from persistence.repository.runs import mark_run_running, set_run_status
from settings import Settings
from taskrun.contract import AnswerReceived, EventSource, QuestionClosed, QuestionOpened, QuestionOutcome, QuestionRecorded
from taskrun.events import QUESTION_CREATED, QUESTION_EXPIRED, matches, question_event

logger = logging.getLogger(__name__)

TEMPORAL_UI = "temporal-ui"


async def _audit_signal(session, received: AnswerReceived, outcome: str, reason: str | None = None) -> None:
    """An answer that came as a signal sent in Temporal: its answer audit row and audit entry
    (the answerer is whoever the signal claims)."""
    await question_repo.audit_answer(
        session,
        question_id=received.question_id,
        run_id=received.run_id,
        answer=received.answer,
        answered_by=received.answered_by,
        source=received.source,
        client_address=TEMPORAL_UI,
        outcome=outcome,
        reason=reason,
    )
    await audit_repo.record(
        session,
        action="question.answer",
        target_type="question",
        target_id=received.question_id,
        actor=received.answered_by,
        source_address=TEMPORAL_UI,
        outcome="ok" if outcome == "accepted" else outcome,
        details={"run_id": received.run_id, "answer": received.answer, "reason": reason, "identity": "claimed in the signal"},
    )


async def _question_listeners(
    session, event_type: str, question: dict, source: EventSource | None, occurred_at: datetime
) -> tuple[dict | None, list[dict]]:
    """The question's event and the enabled rules on it whose filters hold, found in the
    question's own transaction (one indexed query); no event without the run's facts."""
    if source is None:
        return None, []
    event = question_event(
        event_type=event_type,
        question=question,
        occurred_at=occurred_at,
        task_version=source.task_version,
        trigger=source.trigger,
        depth=source.depth,
    )
    found = await subscribers_of(session, event_type, question.get("task_id"), None, rule_run=source.trigger == "event")
    chosen = [{"kind": s.kind, "id": s.id} for s in found if matches(event, s.match)]
    return (event, chosen) if chosen else (None, [])


class QuestionActivities:
    def __init__(self, settings: Settings, registry: ToolRegistry | None = None) -> None:
        self.settings = settings
        self.sessions = get_sessionmaker(settings.DATABASE_URL)
        self._registry = registry

    @property
    def registry(self) -> ToolRegistry:
        if self._registry is None:
            self._registry = get_registry()
        return self._registry

    @activity.defn(name="open_question")
    async def open_question(self, opened: QuestionOpened) -> QuestionRecorded | bool:
        """Record the question and mark the run paused (both or neither). Returns whether the
        question has a notifier to deliver it (so the workflow schedules no idle activity)."""
        question = opened.question
        async with self.sessions() as session, session.begin():
            await question_repo.create_question(session, question)
            await set_run_status(session, question["run_id"], "paused")
            alerts = await question_alerts_of(session, question.get("task_id"))
            created_at = datetime.fromisoformat(question["created_at"])
            event, rules = await _question_listeners(session, QUESTION_CREATED, question, opened.source, created_at)
        spec = self.registry.get(question["tool"])
        try:
            notify = resolve_notifier(spec.metadata if spec is not None else None) is not None
        except Exception:
            notify = True  # a misconfigured notifier: let notify_question record the error
        if alerts or rules:
            return QuestionRecorded(notify, alerts, event, rules)
        return notify

    @activity.defn(name="record_answer")
    async def record_answer(self, received: AnswerReceived) -> QuestionOutcome:
        """The workflow took an answer: store it unless the API already did, resume the run.

        The stored answer wins: when the question was answered by someone else first, that
        answer is what the workflow gets back. An answer that claims to come through the API
        must be the one the API stored: the API records every answer before it signals, so a
        claim with nothing stored behind it is a forgery and is rejected (and audited)."""
        if received.via_api:
            return await self._check_api_answer(received)
        async with self.sessions() as session, session.begin():
            stored = await question_repo.answer_question(
                session,
                received.question_id,
                answer=received.answer,
                answered_by=received.answered_by,
                source=received.source,
                answered_at=received.answered_at,
            )
            if stored is not None:
                await _audit_signal(session, received, "accepted")
            else:
                stored = await question_repo.get_question(session, received.question_id)
            await mark_run_running(session, received.run_id)
        if stored is not None and stored.status == "answered":
            return QuestionOutcome("answered", stored.answer, stored.answered_by)
        return QuestionOutcome("answered", received.answer, received.answered_by)

    async def _check_api_answer(self, received: AnswerReceived) -> QuestionOutcome:
        async with self.sessions() as session, session.begin():
            stored = await question_repo.get_question(session, received.question_id)
            if stored is not None and stored.status == "answered" and stored.answer_source != TEMPORAL_UI:
                await mark_run_running(session, received.run_id)
                return QuestionOutcome("answered", stored.answer, stored.answered_by)
            reason = "the signal claims to come through the API, but the API recorded no answer to this question"
            await _audit_signal(session, received, "forbidden", reason)
        logger.warning("question %s: rejected a forged API answer", received.question_id)
        return QuestionOutcome("rejected", reason=reason)

    @activity.defn(name="expire_question")
    async def expire_question(self, closed: QuestionClosed) -> QuestionOutcome:
        """The open question ends unanswered. When an answer was stored meanwhile (the API won
        the race against the timer), that answer is returned instead."""
        async with self.sessions() as session, session.begin():
            expired = await question_repo.expire_question(
                session, closed.question_id, reason=closed.reason, closed_at=closed.closed_at
            )
            stored = None if expired else await question_repo.get_question(session, closed.question_id)
            if closed.resume:
                await mark_run_running(session, closed.run_id)
            event, rules = None, []
            if expired and closed.question is not None:
                event, rules = await _question_listeners(session, QUESTION_EXPIRED, closed.question, closed.source, closed.closed_at)
        if stored is not None and stored.status == "answered":
            return QuestionOutcome("answered", stored.answer, stored.answered_by)
        return QuestionOutcome("expired", event=event, subscribers=rules)

    @activity.defn(name="notify_question")
    async def notify_question(self, opened: QuestionOpened) -> str:
        """Deliver the question with the tool's notifier (or the configured webhook). A failure is
        recorded on the question and raised, so Temporal retries it."""
        question = opened.question
        spec = self.registry.get(question["tool"])
        attempt = activity.info().attempt
        try:
            notifier = resolve_notifier(spec.metadata if spec is not None else None)
            if notifier is None:
                return "none"
            await deliver(notifier, notice(question))
        except Exception as error:
            message = f"{type(error).__name__}: {error}"
            logger.warning("notifying question %s failed (attempt %d): %s", question["id"], attempt, message)
            await self._record(question["id"], {"status": "failed", "attempts": attempt, "error": message})
            raise
        await self._record(question["id"], {"status": "delivered", "attempts": attempt})
        return "delivered"

    async def _record(self, question_id: str, notification: dict) -> None:
        notification = {**notification, "at": datetime.now(UTC).isoformat()}
        async with self.sessions() as session, session.begin():
            await question_repo.record_notification(session, question_id, notification)
