"""HTTP metrics of the API: requests by method, route template and status, and their
durations. A pure ASGI middleware, so streaming and long-polling answers are timed to their end."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter, Histogram

from .authz import V1_PREFIX

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"

REQUESTS = Counter(
    "cytasks_http_requests", "HTTP requests answered, by method, route template and status", ("method", "route", "status")
)
DURATION = Histogram(
    "cytasks_http_request_duration_seconds",
    "Time to answer an HTTP request (to the end of its body), by method and route template",
    ("method", "route"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


def route_template(scope: dict[str, Any]) -> str:
    """The matched route's path template (`/v1/task-runs/{run_id}`), or `unmatched`: never the
    raw path, so label values stay bounded."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not template:
        return UNMATCHED
    path = scope.get("path", "")
    if path.startswith(V1_PREFIX + "/") and not template.startswith(V1_PREFIX + "/"):
        template = V1_PREFIX + template  # routes of the /v1 router see their path without it
    return template


class HttpMetrics:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            method = scope.get("method", "")
            method = method if method in METHODS else "other"
            route = route_template(scope)
            REQUESTS.labels(method, route, str(status)).inc()
            DURATION.labels(method, route).observe(time.perf_counter() - started)
