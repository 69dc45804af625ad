"""Run events for in-process observers (the Prometheus counters): a run created, a run finished.

A repository function that records such a change queues its event on the session; the events
reach the observers when the session's transaction commits, and are dropped when it rolls
back, so an observer sees only what the database kept. With no observer, nothing is queued.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

_QUEUED = "cytasks_run_events"


@dataclass(frozen=True)
class RunCreated:
    task: str | None
    """The task's cy_name; None for an ad hoc run."""
    trigger: str


@dataclass(frozen=True)
class RunFinished:
    task: str | None
    status: str
    trigger: str
    duration_ms: int | None


RunEvent = RunCreated | RunFinished
Observer = Callable[[RunEvent], None]
_observers: list[Observer] = []


def observe(observer: Observer) -> None:
    """Call ``observer`` with every committed run event of this process (idempotent)."""
    if observer not in _observers:
        _observers.append(observer)


def queue(session: AsyncSession, run_event: RunEvent) -> None:
    if _observers:
        session.sync_session.info.setdefault(_QUEUED, []).append(run_event)


@event.listens_for(Session, "after_commit")
def _deliver(session: Session) -> None:
    for run_event in session.info.pop(_QUEUED, ()):
        for observer in _observers:
            try:
                observer(run_event)
            except Exception:  # an observer never breaks the work that was recorded
                logger.exception("run event observer failed")


@event.listens_for(Session, "after_rollback")
def _drop(session: Session) -> None:
    session.info.pop(_QUEUED, None)
