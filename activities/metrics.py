"""Prometheus metrics of a cytasks process (the API or a worker), in prometheus_client's default
registry: runs created and finished (counted when the transaction recording them commits, in
whichever process records them; sum them over processes), run durations, and tool calls.

The API's ``GET /metrics`` and a worker's metrics port (CYTASKS_WORKER_METRICS_PORT) serve this
registry; the API adds gauges it reads from the database at scrape time (api/services/metrics.py).
Label values are bounded: task cy_names, statuses, triggers, tool names and error types.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Histogram

from persistence.repository import run_events

AD_HOC = "adhoc"
"""The ``task`` label of runs of no saved task."""

RUN_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 86400)
TOOL_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

RUNS_STARTED = Counter(
    "cytasks_runs_started", "Runs created (pending), by task and trigger", ("task", "trigger")
)
RUNS_FINISHED = Counter(
    "cytasks_runs_finished", "Runs that ended, by task, status and trigger", ("task", "status", "trigger")
)
RUN_DURATION = Histogram(
    "cytasks_run_duration_seconds",
    "Duration of runs that ended (start to end), by status",
    ("status",),
    buckets=RUN_DURATION_BUCKETS,
)
TOOL_CALLS = Counter("cytasks_tool_calls", "Tool activity executions, by tool and outcome (ok, error)", ("tool", "outcome"))
TOOL_ERRORS = Counter("cytasks_tool_call_errors", "Tool activity executions that failed, by tool and error type", ("tool", "error"))
TOOL_DURATION = Histogram(
    "cytasks_tool_call_duration_seconds", "Duration of tool activity executions, by tool", ("tool",),
    buckets=TOOL_DURATION_BUCKETS,
)
SCHEDULE_LATENESS = Histogram(
    "cytasks_schedule_fire_lateness_seconds",
    "Delay between a schedule fire's scheduled time and its run being recorded, by task (backfills excluded)",
    ("task",),
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)


def _count_run(event: run_events.RunEvent) -> None:
    task = event.task or AD_HOC
    if isinstance(event, run_events.RunCreated):
        RUNS_STARTED.labels(task, event.trigger).inc()
        return
    RUNS_FINISHED.labels(task, event.status, event.trigger).inc()
    if event.duration_ms is not None:
        RUN_DURATION.labels(event.status).observe(event.duration_ms / 1000)


def install() -> None:
    """Count this process's committed run events (idempotent)."""
    run_events.observe(_count_run)


@contextmanager
def tool_call(tool: str) -> Iterator[None]:
    """Time one tool execution and count its outcome; the error type is the exception's class."""
    started = time.perf_counter()
    try:
        yield
    except BaseException as error:
        TOOL_CALLS.labels(tool, "error").inc()
        TOOL_ERRORS.labels(tool, getattr(error, "type", None) or type(error).__name__).inc()
        raise
    else:
        TOOL_CALLS.labels(tool, "ok").inc()
    finally:
        TOOL_DURATION.labels(tool).observe(time.perf_counter() - started)
