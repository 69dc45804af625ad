"""The workflow side of human-in-the-loop: ask, wait on a durable condition, resume.

``HumanQuestions`` lives inside ``TaskRunWorkflow``; the run's host hands it every
hi-latency call. The question id comes from ``workflow.uuid4()``, the question is recorded
(and the run marked ``paused``) by a local activity, the notification is a normal activity
running beside the wait, and the answer arrives as the ``human_responded`` signal, checked
here exactly as the API checks it. Answers are arbitrated by the database: the local
activity that closes a question reports what was stored, and that is what the call returns.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, Callable

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.questions import QuestionActivities
    from cy.errors import HumanResponseTimeout, ToolInvocationError
    from hitl.spec import QuestionError, may_answer, question_from_call, validate_answer
    from taskrun.contract import (
        HUMAN_RESPONDED_FIELDS,
        HUMAN_RESPONDED_SIGNAL,
        AnswerReceived,
        QuestionClosed,
        QuestionOpened,
        QuestionOutcome,
        EventSource,
        QuestionRecorded,
    )
    from workflows.event_delivery import deliver
    from workflows import versions

UI_SOURCE = "temporal-ui"
MAX_REJECTED_SIGNALS = 50
MAX_QUEUED_ANSWERS = 10
BOOKKEEPING_TIMEOUT = timedelta(seconds=30)
NOTIFY_TIMEOUT = timedelta(seconds=30)
NOTIFY_RETRY = RetryPolicy(
    maximum_attempts=5,
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)


class HumanQuestions:
    """One run's questions: at most one is open at a time (the script waits on it)."""

    def __init__(self) -> None:
        self.open: dict[str, Any] | None = None
        self.rejected: list[dict[str, Any]] = []
        self.asked = 0
        self.log: Callable[[str], None] | None = None
        self.on_status: Callable[[str], None] | None = None
        self._answer: dict[str, Any] | None = None
        self._queued: list[Any] = []
        self._notifications: list[asyncio.Task[None]] = []
        self.on_waiting_too_long: Callable[[dict[str, Any], list[str], float], Any] | None = None
        """Alerts the given alerts that the question has waited this many seconds."""

    # -- the signal --------------------------------------------------------------------

    def receive(self, payload: Any) -> None:
        """Handle a ``human_responded`` signal: accept it for the open question or record why not."""
        reason = self._check(payload)
        if reason is None and self._answer is not None:
            if len(self._queued) < MAX_QUEUED_ANSWERS:
                self._queued.append(payload)  # taken if the answer being recorded is rejected
                return
            reason = f"question {self.open['id']} already has an answer"
        if reason is None:
            via_api = bool(payload.get("via_api"))
            self._answer = {
                "answer": payload["answer"],
                "answered_by": payload.get("answered_by"),
                "source": str(payload.get("source") or "api") if via_api else UI_SOURCE,
                "via_api": via_api,
                "signal": payload,
            }
            return
        self._reject(payload, reason)

    def _reject(self, payload: Any, reason: str) -> None:
        entry = {"received_at": workflow.now().isoformat(), "reason": reason, "signal": _preview(payload)}
        if len(self.rejected) >= MAX_REJECTED_SIGNALS:
            self.rejected.pop(0)
        self.rejected.append(entry)
        message = f"Ignored a {HUMAN_RESPONDED_SIGNAL} signal: {reason}"
        workflow.logger.warning(message)
        if self.log is not None:
            self.log(message)

    def _check(self, payload: Any) -> str | None:
        if not isinstance(payload, dict):
            return f"the signal must be a JSON object with an 'answer', got {type(payload).__name__}"
        unknown = sorted(str(key) for key in payload if key not in HUMAN_RESPONDED_FIELDS)
        if unknown:
            return f"unknown field(s) {', '.join(unknown)}; expected {', '.join(HUMAN_RESPONDED_FIELDS)}"
        if "answer" not in payload:
            return "the signal has no 'answer'"
        question_id = payload.get("question_id")
        if question_id is not None and not isinstance(question_id, str):
            return "'question_id' must be a string"
        answered_by = payload.get("answered_by")
        if answered_by is not None and not isinstance(answered_by, str):
            return "'answered_by' must be a string"
        source = payload.get("source")
        if source is not None and not isinstance(source, str):
            return "'source' must be a string"
        if self.open is None:
            return "no question is waiting for an answer"
        if question_id is not None and question_id != self.open["id"]:
            return f"question {question_id} is not the open question {self.open['id']}"
        problems = validate_answer(self.open, payload["answer"])
        if problems:
            return "; ".join(f"{p['path']}: {p['message']}" for p in problems)
        if not payload.get("via_api") and not may_answer(self.open.get("assignees"), answered_by):
            who = f"'{answered_by}'" if answered_by else "an anonymous sender"
            return f"{who} is not among the assignees ({', '.join(self.open['assignees'])}); set 'answered_by'"
        return None

    # -- asking --------------------------------------------------------------------------

    async def ask(self, request: Any, call: Any) -> Any:
        """Pause the run on ``call`` until it is answered or times out; return the answer."""
        try:
            spec = question_from_call(call.tool, call.args, call.kwargs)
        except QuestionError as error:
            raise ToolInvocationError(str(error), call.line, call.column) from None
        question_id = str(workflow.uuid4())
        created_at = workflow.now()
        timeout_at = created_at + timedelta(seconds=spec.timeout_seconds) if spec.timeout_seconds else None
        question = {
            "id": question_id,
            "run_id": request.run_id,
            "task_id": request.task_id,
            "task_name": request.task_name,
            "tool": call.tool.fqn,
            "line": call.line,
            "column": call.column,
            **spec.to_dict(),
            "created_at": created_at.isoformat(),
            "timeout_at": timeout_at.isoformat() if timeout_at else None,
        }
        self.asked += 1
        self.open = question
        self._answer = None
        recorded = await workflow.execute_local_activity_method(
            QuestionActivities.open_question,
            QuestionOpened(question, EventSource.of(request)),
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
        )
        notify = recorded.notify if isinstance(recorded, QuestionRecorded) else recorded
        self._status("paused")
        if notify:
            self._notifications.append(asyncio.create_task(self._notify(question)))
        if (
            isinstance(recorded, QuestionRecorded)
            and recorded.waiting_alerts
            and self.on_waiting_too_long is not None
            and versions.patched("question-alerts")
        ):
            self._notifications.append(asyncio.create_task(self._watch(question, recorded.waiting_alerts, created_at)))
        if isinstance(recorded, QuestionRecorded):
            await self._deliver(recorded.event, recorded.subscribers)
        verify = versions.patched("answers-verified")
        while True:
            timed_out = await self._wait_for_answer(spec.timeout_seconds, created_at)
            if timed_out or not verify:
                break
            outcome = await self._record(request, question_id)
            if outcome.status != "rejected":
                break
            self._reject(self._answer.get("signal") if self._answer else None, outcome.reason or "rejected")
            self._answer = None
            queued, self._queued = self._queued, []
            for payload in queued:
                self.receive(payload)
        if timed_out:
            outcome = await workflow.execute_local_activity_method(
                QuestionActivities.expire_question,
                QuestionClosed(question_id, request.run_id, "timeout", True, workflow.now(), EventSource.of(request), question),
                start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            )
            await self._deliver(outcome.event, outcome.subscribers)
        elif verify:
            pass  # recorded and checked in the loop above
        elif self._answer and self._answer.get("via_api"):
            # Histories recorded before answers were verified: the API's answer was taken as is.
            outcome = QuestionOutcome("answered", self._answer["answer"], self._answer.get("answered_by"))
        else:
            outcome = await self._record(request, question_id)
        for payload in self._queued:
            self._reject(payload, f"question {question_id} already has an answer")
        self.open = None
        self._answer = None
        self._queued = []
        self._status("running")
        if outcome.status == "answered":
            return outcome.answer
        if spec.has_default:
            self._log(f"Question {question_id} expired after {spec.timeout_seconds:g} s; using its default answer")
            return spec.default
        raise HumanResponseTimeout(
            f"No answer to '{_short(spec.question)}' (question {question_id}) "
            f"within {spec.timeout_seconds:g} seconds",
            call.line,
            call.column,
        )

    @staticmethod
    async def _deliver(event: dict[str, Any] | None, subscribers: list[dict[str, Any]]) -> None:
        """Hand a question's event to the rules listening to it (answers that arrive meanwhile
        wait in the signal buffer; the question's deadline still counts from its creation)."""
        if event is not None and subscribers and versions.patched("question-events"):
            await deliver(event, subscribers)

    async def _watch(self, question: dict[str, Any], alerts: list[dict[str, Any]], created_at: Any) -> None:
        """While the question is open, each alert threshold it passes fires its alerts once."""
        def closed() -> bool:
            return self.open is None or self.open.get("id") != question["id"]

        for seconds in sorted({alert["seconds"] for alert in alerts}):
            remaining = seconds - (workflow.now() - created_at).total_seconds()
            try:
                await workflow.wait_condition(closed, timeout=max(remaining, 0.001))
                return
            except asyncio.TimeoutError:
                due = [alert["id"] for alert in alerts if alert["seconds"] == seconds]
                await self.on_waiting_too_long(question, due, seconds)

    async def _wait_for_answer(self, timeout_seconds: float | None, created_at: Any) -> bool:
        """Wait for a valid-looking answer until the question's deadline; True on timeout."""
        remaining = None
        if timeout_seconds:
            remaining = timeout_seconds - (workflow.now() - created_at).total_seconds()
            if remaining <= 0:
                return self._answer is None
        try:
            await workflow.wait_condition(lambda: self._answer is not None, timeout=remaining)
        except asyncio.TimeoutError:
            return True
        return False

    async def _record(self, request: Any, question_id: str) -> QuestionOutcome:
        """Store the answer and its audit row, or learn that the API stored another one first,
        or that the answer is rejected (an API claim the database does not back)."""
        answer = self._answer or {}
        return await workflow.execute_local_activity_method(
            QuestionActivities.record_answer,
            AnswerReceived(
                question_id=question_id,
                run_id=request.run_id,
                answer=answer.get("answer"),
                answered_by=answer.get("answered_by"),
                source=answer.get("source", UI_SOURCE),
                via_api=bool(answer.get("via_api")),
                answered_at=workflow.now(),
            ),
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
        )

    async def close_open(self, run_id: str, reason: str) -> None:
        """The run ends while a question is open (cancelled, timed out): expire it."""
        question = self.open
        if question is None:
            return
        self.open = None
        self._answer = None
        await workflow.execute_local_activity_method(
            QuestionActivities.expire_question,
            QuestionClosed(question["id"], run_id, reason, False, workflow.now()),
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
        )

    def pending(self) -> dict[str, Any] | None:
        return self.open

    async def _notify(self, question: dict[str, Any]) -> None:
        try:
            await workflow.execute_activity_method(
                QuestionActivities.notify_question,
                QuestionOpened(question),
                start_to_close_timeout=NOTIFY_TIMEOUT,
                retry_policy=NOTIFY_RETRY,
                summary=f"notify {question['tool']}",
            )
        except ActivityError as error:
            cause = error.cause or error
            self._log(f"Notifying question {question['id']} failed: {getattr(cause, 'message', None) or cause}")
        except asyncio.CancelledError:
            pass

    def _status(self, status: str) -> None:
        if self.on_status is not None:
            self.on_status(status)

    def _log(self, message: str) -> None:
        workflow.logger.info(message)
        if self.log is not None:
            self.log(message)


def _short(text: str, limit: int = 80) -> str:
    first = text.strip().splitlines()[0] if text.strip() else text
    return first if len(first) <= limit else first[: limit - 1] + "…"


def _preview(payload: Any, limit: int = 500) -> Any:
    """The rejected signal as recorded: small values as they are, large ones cut."""
    import json

    try:
        text = json.dumps(payload, default=str)
    except (TypeError, ValueError):
        text = repr(payload)
    if len(text) <= limit:
        return payload
    return text[:limit] + "…"
