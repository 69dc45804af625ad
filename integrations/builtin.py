"""The tools every installation has besides the Cy natives."""

from __future__ import annotations

import time
from typing import Any

from cy.tools import RetryPolicy, ToolRegistry
from hitl.tool import register_human_tools

from .http import http_request
from .llm import llm_run

DURABLE_TIMER = "durable_timer"
CHILD_TASK = "child_task"
MAX_TASK_DEPTH = 5
"""``app::tasks::run`` calls nest at most this deep (a task calling itself stops there)."""
MAX_SLEEP_SECONDS = 30 * 24 * 3600


def sleep(seconds: float) -> None:
    """Wait; inside a run this is a durable timer that survives worker restarts."""
    check_sleep_seconds(seconds)
    time.sleep(seconds)


def check_sleep_seconds(seconds: object) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ValueError(f"sleep() requires number, got {type(seconds).__name__}")
    if seconds < 0 or seconds > MAX_SLEEP_SECONDS:
        raise ValueError(f"sleep() seconds must be between 0 and {MAX_SLEEP_SECONDS}, got {seconds}")
    return float(seconds)


def run_task(task: str, input: Any = None) -> Any:
    """Run a saved task (by cy_name or id, at its current version) as a child run and answer
    its output; its failure is this call's error."""
    raise ValueError(
        "app::tasks::run starts a child run, so it works only inside a run (the API, cytasks run), not in cy run"
    )


def register_builtin_tools(registry: ToolRegistry) -> None:
    registry.register(
        "llm_run",
        llm_run,
        uses_host=True,
        timeout_seconds=180,
        retry=RetryPolicy(maximum_attempts=3, non_retryable_error_types=("ValueError",)),
    )
    registry.register(
        "app::http::request",
        http_request,
        uses_host=True,
        timeout_seconds=120,
        retry=RetryPolicy(maximum_attempts=1),
        timeout_param="timeout",
    )
    registry.register("sleep", sleep, metadata={DURABLE_TIMER: True})
    registry.register("app::tasks::run", run_task, metadata={CHILD_TASK: True})
    register_human_tools(registry)
