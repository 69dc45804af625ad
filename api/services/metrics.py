"""What `GET /metrics` answers: this process's metrics (activities/metrics.py and the HTTP
metrics of api/http_metrics.py, in prometheus_client's default registry) followed by gauges read
from the database at scrape time with two index-backed queries: runs pending, running and
paused, and the age of the oldest pending question."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import Question
from persistence.repository.rollups import active_run_counts


class _Snapshot:
    """A collector answering gauges already read."""

    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self):
        return iter(self.families)


async def database_gauges(session: AsyncSession) -> list[GaugeMetricFamily]:
    active = GaugeMetricFamily("cytasks_runs_active", "Runs not ended now, by status", labels=["status"])
    for status, count in (await active_run_counts(session)).items():
        active.add_metric([status], count)
    oldest = (
        await session.execute(select(func.min(Question.created_at)).where(Question.status == "pending"))
    ).scalar_one_or_none()
    age = GaugeMetricFamily(
        "cytasks_oldest_pending_question_age_seconds",
        "How long the oldest question still waiting for an answer has waited (0: none waits)",
    )
    age.add_metric([], max(0.0, (datetime.now(UTC) - oldest).total_seconds()) if oldest else 0.0)
    pending = GaugeMetricFamily("cytasks_questions_pending", "Questions waiting for an answer")
    pending.add_metric(
        [], (await session.execute(select(func.count()).select_from(Question).where(Question.status == "pending"))).scalar_one()
    )
    return [active, age, pending]


async def exposition(session: AsyncSession) -> bytes:
    """The Prometheus text format of this process's metrics and the database gauges."""
    snapshot = CollectorRegistry(auto_describe=False)
    snapshot.register(_Snapshot(await database_gauges(session)))
    return generate_latest(REGISTRY) + generate_latest(snapshot)
