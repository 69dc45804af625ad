"""The tool calls a finished run made, read from its workflow history, as the answers a replay
gives: each tool answers in the order the run called it.

The functions here are pure: they take the run's history events in a small decoded form,
which ``api/services/task_testing.py`` builds from Temporal's events (payloads decoded by the
product's data converter, so payloads kept in the blob store are read back):

* ``{"event_id", "kind": "activity_scheduled", "activity_type", "input": {"args", "kwargs"}}``
  for a tool activity (its type is the tool's FQN, its input a ``ToolInvocation``);
* ``{"event_id", "kind": "activity_completed", "scheduled_event_id", "result": {"value", ...}}``
  (a ``ToolResult``), or ``"kind": "activity_failed"`` with ``"failure": {"message", "type"}``
  instead of a result (also for a timeout or a cancel);
* ``{"event_id", "kind": "local_activity", "activity_type", "result"?, "failure"?}`` for a
  local activity's marker (it records no input: such a call's arguments are unknown).

Events whose activity type is not a tool (the run's bookkeeping) are left out.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass
from typing import Any

from .samples import CannedAnswer, CannedAnswers


@dataclass(frozen=True)
class RecordedCall:
    fqn: str
    event_id: int
    args: list[Any] | None = None
    kwargs: dict[str, Any] | None = None
    result: Any = None
    error: str | None = None
    completed: bool = False
    """False for a call the run started but never saw the end of (it was cut short)."""
    local: bool = False


def _failure_message(failure: Any) -> str:
    if isinstance(failure, dict):
        return str(failure.get("message") or failure.get("type") or "the tool failed")
    return str(failure or "the tool failed")


def _value(result: Any) -> Any:
    return result.get("value") if isinstance(result, dict) else result


def recorded_calls(events: Iterable[dict[str, Any]], tools: Container[str]) -> list[RecordedCall]:
    """Every call of a tool in ``tools`` the history records, in the order the run made them."""
    scheduled: dict[int, dict[str, Any]] = {}
    order: list[int] = []
    ends: dict[int, dict[str, Any]] = {}
    local: list[RecordedCall] = []
    for event in events:
        kind = event.get("kind")
        if kind == "activity_scheduled" and event.get("activity_type") in tools:
            scheduled[event["event_id"]] = event
            order.append(event["event_id"])
        elif kind in ("activity_completed", "activity_failed"):
            ends[event["scheduled_event_id"]] = event
        elif kind == "local_activity" and event.get("activity_type") in tools:
            failure = event.get("failure")
            local.append(
                RecordedCall(
                    fqn=event["activity_type"],
                    event_id=event["event_id"],
                    result=None if failure is not None else _value(event.get("result")),
                    error=None if failure is None else _failure_message(failure),
                    completed=True,
                    local=True,
                )
            )
    calls: list[RecordedCall] = list(local)
    for event_id in order:
        start = scheduled[event_id]
        end = ends.get(event_id)
        invocation = start.get("input") or {}
        failure = None if end is None else end.get("failure")
        calls.append(
            RecordedCall(
                fqn=start["activity_type"],
                event_id=event_id,
                args=list(invocation.get("args") or []),
                kwargs=dict(invocation.get("kwargs") or {}),
                result=None if end is None or failure is not None else _value(end.get("result")),
                error=None if end is None or failure is None else _failure_message(failure),
                completed=end is not None,
            )
        )
    return sorted(calls, key=lambda call: call.event_id)


def recorded_answers(
    calls: Iterable[RecordedCall], extra: dict[str, list[Any]] | None = None
) -> dict[str, CannedAnswers]:
    """The answers of a replay: per tool, each recorded call's result (or failure) once, in
    order. ``extra`` adds answers kept outside the history (a person's answers to
    ``app::human::ask``, from the run's questions), also in order."""
    answers: dict[str, list[CannedAnswer]] = {}
    for call in calls:
        if not call.completed:
            continue
        answers.setdefault(call.fqn, []).append(CannedAnswer(result=call.result, error=call.error))
    for fqn, values in (extra or {}).items():
        answers.setdefault(fqn, []).extend(CannedAnswer(result=value) for value in values)
    return {fqn: CannedAnswers(fqn, tuple(items)) for fqn, items in answers.items()}
