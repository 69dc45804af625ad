"""Run statistics of one task or of all of them over a window (24h, 7d, 30d), read from the
rollups that finishing a run maintains (persistence/repository/rollups.py), never from
task_runs itself, except the counts of runs still going (an index on status).

A window is whole periods ending with the current one: 24 hours ending with the current hour
(hourly rollups), or 7 or 30 UTC days ending today (daily rollups). A run counts in the
period it finished in."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import RUN_TRIGGERS, Task
from persistence.repository import rollups
from persistence.repository import runs as run_repo
from taskrun.contract import TERMINAL_RUN_STATUSES

WINDOWS: dict[str, tuple[str, int]] = {"24h": ("hour", 24), "7d": ("day", 7), "30d": ("day", 30)}
PERCENTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}
RANKED_TASKS = 10


@dataclass
class Window:
    name: str
    period: str
    starts: list[datetime]

    @property
    def since(self) -> datetime:
        return self.starts[0]

    @property
    def until(self) -> datetime:
        step = timedelta(hours=1) if self.period == "hour" else timedelta(days=1)
        return self.starts[-1] + step


def window_of(name: str, now: datetime | None = None) -> Window:
    period, count = WINDOWS[name]
    now = (now or datetime.now(UTC)).astimezone(UTC)
    last = now.replace(minute=0, second=0, microsecond=0)
    step = timedelta(hours=1)
    if period == "day":
        last = last.replace(hour=0)
        step = timedelta(days=1)
    return Window(name, period, [last - step * (count - 1 - index) for index in range(count)])


@dataclass
class RunStats:
    window: Window
    task: Task | None
    by_status: dict[str, int]
    by_trigger: dict[str, int]
    series: list[dict[str, Any]]
    duration: dict[str, int | None]
    errors: list[dict[str, Any]]
    llm_tokens: dict[str, int]
    active: dict[str, int]
    top_failing: list[dict[str, Any]] = field(default_factory=list)
    slowest: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def success_rate(self) -> float | None:
        return round(self.by_status.get("completed", 0) / self.total, 4) if self.total else None


def _percentiles(histogram: list[int], timed: int, duration_sum: int) -> dict[str, int | None]:
    figures: dict[str, int | None] = {
        name: rollups.estimate_percentile(histogram, quantile) for name, quantile in PERCENTILES.items()
    }
    figures["mean"] = round(duration_sum / timed) if timed else None
    return figures


async def run_stats(session: AsyncSession, window_name: str, task: Task | None = None) -> RunStats:
    """The statistics of ``task`` (or of all runs, with the tasks failing most and the slowest)."""
    window = window_of(window_name)
    scope: dict[str, Any] = {"task_id": task.id} if task is not None else {"all_tasks": True}
    query = {"period": window.period, "since": window.since}
    rows = await rollups.rollup_breakdown(session, **query, **scope)
    by_status = {status: 0 for status in TERMINAL_RUN_STATUSES}
    by_trigger = {trigger: 0 for trigger in RUN_TRIGGERS}
    per_start: dict[datetime, dict[str, int]] = defaultdict(lambda: {s: 0 for s in TERMINAL_RUN_STATUSES})
    tokens = {key: 0 for key in rollups.LLM_TOKEN_KEYS}
    timed = duration_sum = 0
    for row in rows:
        by_status[row.status] = by_status.get(row.status, 0) + row.runs
        by_trigger[row.trigger] = by_trigger.get(row.trigger, 0) + row.runs
        per_start[row.start][row.status] = per_start[row.start].get(row.status, 0) + row.runs
        timed += row.timed_runs
        duration_sum += row.duration_ms_sum
        for key in rollups.LLM_TOKEN_KEYS:
            tokens[key] += getattr(row, key)
    series = []
    for start in window.starts:
        counts = per_start.get(start, {s: 0 for s in TERMINAL_RUN_STATUSES})
        series.append({"start": start, "total": sum(counts.values()), "by_status": dict(counts)})
    histogram = await rollups.rollup_histogram(session, **query, **scope) if timed else []
    errors = [
        {"type": row.error_type, "count": row.runs, "latest_run_id": str(row.latest_run_id)}
        for row in await rollups.error_types(session, **query, **scope)
    ]
    active = await rollups.active_run_counts(session, task_id=task.id if task is not None else None)
    stats = RunStats(
        window=window,
        task=task,
        by_status=by_status,
        by_trigger=by_trigger,
        series=series,
        duration=_percentiles(histogram, timed, duration_sum),
        errors=errors,
        llm_tokens=tokens,
        active=active,
    )
    if task is None:
        await _rank_tasks(session, window, stats)
    return stats


async def _rank_tasks(session: AsyncSession, window: Window, stats: RunStats) -> None:
    """The tasks with the most failed or timed out runs, and the slowest ones: ranked by their
    mean duration (cheap), then given their estimated percentiles."""
    rows = await rollups.ranked_tasks(session, period=window.period, since=window.since, limit=RANKED_TASKS)
    failing = [row for row in rows if row.rank == "failing"]
    slowest = [row for row in rows if row.rank == "slowest"]
    stats.top_failing = [
        {**_summary(row), "runs": row.runs, "failed": row.failed, "failure_rate": round(row.failed / row.runs, 4)}
        for row in failing
    ]
    histograms = await rollups.task_histograms(
        session, period=window.period, since=window.since, task_ids=[row.task_id for row in slowest]
    )
    stats.slowest = [
        {
            **_summary(row),
            "runs": row.runs,
            "duration_ms": _percentiles(histograms.get(row.task_id, []), row.timed_runs, row.duration_ms_sum),
        }
        for row in slowest
    ]


def _summary(row: Any) -> dict[str, Any]:
    return {"task_id": str(row.task_id), "cy_name": row.cy_name, "name": row.name}


LIST_WINDOW = "7d"


async def task_list_summaries(session: AsyncSession, tasks: list[Task]) -> dict[Any, dict[str, Any]]:
    """For a page of tasks: each one's runs finished and success rate over the last 7 days (from
    the rollups) and its newest run."""
    window = window_of(LIST_WINDOW)
    ids = [task.id for task in tasks]
    counts = await rollups.task_status_counts(session, ids, period=window.period, since=window.since)
    latest = await run_repo.last_runs(session, ids)
    summaries: dict[Any, dict[str, Any]] = {}
    for task_id in ids:
        by_status = counts.get(task_id, {})
        finished = sum(by_status.get(status, 0) for status in TERMINAL_RUN_STATUSES)
        summaries[task_id] = {
            "runs": finished,
            "success_rate": by_status.get("completed", 0) / finished if finished else None,
            "last_run": latest.get(task_id),
        }
    return summaries
