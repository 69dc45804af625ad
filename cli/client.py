"""A small HTTP client for the cytasks API, used by the CLI.

Configured by ``CYTASKS_URL`` (default ``http://127.0.0.1:8000``) and ``CYTASKS_API_KEY``.
Every request says ``X-Cytasks-Trigger: cli`` so runs started from the command line are
recorded with the ``cli`` trigger.
"""

from __future__ import annotations

import os
from typing import Any, Iterator

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
PROBLEM_CONTENT_TYPE = "application/problem+json"


def configured_url(base_url: str | None = None) -> str:
    """The API's URL: ``base_url``, else ``CYTASKS_URL``, else the local default."""
    return (base_url or os.environ.get("CYTASKS_URL") or DEFAULT_URL).rstrip("/")


def configured_key(api_key: str | None = None) -> str | None:
    """The API key: ``api_key``, else ``CYTASKS_API_KEY``."""
    return api_key if api_key is not None else os.environ.get("CYTASKS_API_KEY")


class ApiError(Exception):
    """A non-2xx answer from the API (a problem document when the server sent one)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        super().__init__(problem.get("detail") or problem.get("title") or f"HTTP {status}")

    @property
    def title(self) -> str:
        return str(self.problem.get("title") or f"HTTP {self.status}")

    @property
    def detail(self) -> str | None:
        detail = self.problem.get("detail")
        return str(detail) if detail else None

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors = self.problem.get("errors")
        return errors if isinstance(errors, list) else []


class ConnectionFailed(Exception):
    pass


def _problem_from(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    return {
        "type": "about:blank",
        "title": response.reason_phrase or f"HTTP {response.status_code}",
        "status": response.status_code,
        "detail": response.text[:500] or None,
    }


class CytasksClient:
    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        trigger: str = "cli",
    ) -> None:
        self.base_url = configured_url(base_url)
        key = configured_key(api_key)
        headers = {"X-Cytasks-Trigger": trigger, "Accept": "application/json, application/problem+json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, transport=transport)

    def __enter__(self) -> "CytasksClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path, json=json, params=clean_params, headers=headers)
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"cannot reach the cytasks API at {self.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise ApiError(response.status_code, _problem_from(response))
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # -- tasks ------------------------------------------------------------------------

    def create_task(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", "/v1/tasks", json=body)

    def list_tasks(self, **filters: Any) -> dict[str, Any]:
        return self.request("GET", "/v1/tasks", params=filters)

    def iter_tasks(self, limit: int | None = None, **filters: Any) -> Iterator[dict[str, Any]]:
        yield from self._iterate("/v1/tasks", limit, filters)

    def get_task(self, task: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/tasks/{task}")

    def update_task(self, task: str, changes: dict[str, Any]) -> dict[str, Any]:
        return self.request("PATCH", f"/v1/tasks/{task}", json=changes)

    def task_versions(self, task: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/tasks/{task}/versions")

    def archive_task(self, task: str) -> Any:
        return self.request("DELETE", f"/v1/tasks/{task}")

    # -- runs -------------------------------------------------------------------------

    def execute_task(
        self, task: str, input: Any = None, *, idempotency_key: str | None = None, version: int | None = None
    ) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        body: dict[str, Any] = {"input": input}
        if version is not None:
            body["version"] = version
        return self.request("POST", f"/v1/tasks/{task}/execute", json=body, headers=headers)

    def execute_script(
        self, script: str, input: Any = None, *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self.request("POST", "/v1/tasks/execute", json={"script": script, "input": input}, headers=headers)

    def get_run(self, run_id: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/task-runs/{run_id}")

    def list_runs(self, **filters: Any) -> dict[str, Any]:
        return self.request("GET", "/v1/task-runs", params=filters)

    def iter_runs(self, limit: int | None = None, **filters: Any) -> Iterator[dict[str, Any]]:
        yield from self._iterate("/v1/task-runs", limit, filters)

    def run_logs(self, run_id: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/task-runs/{run_id}/logs")

    def cancel_run(self, run_id: str) -> dict[str, Any]:
        return self.request("POST", f"/v1/task-runs/{run_id}/cancel")

    def _iterate(self, path: str, limit: int | None, filters: dict[str, Any]) -> Iterator[dict[str, Any]]:
        cursor: str | None = None
        seen = 0
        while True:
            page_size = min(200, limit - seen) if limit is not None else 100
            page = self.request("GET", path, params={**filters, "limit": page_size, "cursor": cursor})
            for item in page.get("items", []):
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            cursor = page.get("next_cursor")
            if not cursor:
                return
