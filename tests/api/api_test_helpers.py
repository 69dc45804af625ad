"""Helpers shared by the API tests."""

from __future__ import annotations

import httpx
import pytest

from app_fixture import running_app

__all__ = ["PROBLEM_BASE", "assert_problem", "engine_importable", "requires_engine", "running_app"]

PROBLEM_BASE = "https://cytasks.dev/problems/"


def assert_problem(response: httpx.Response, status: int, slug: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    for member in ("type", "title", "status", "detail", "instance"):
        assert member in body, body
    assert body["status"] == status
    assert body["type"].startswith(PROBLEM_BASE)
    if slug is not None:
        assert body["type"] == PROBLEM_BASE + slug, body
    return body


def engine_importable() -> bool:
    """Whether the run engine (taskrun.client and the Cy interpreter under it) imports."""
    try:
        import taskrun.client  # noqa: F401
    except ImportError:
        return False
    return True


requires_engine = pytest.mark.skipif(
    not engine_importable(), reason="taskrun.client (and the Cy interpreter) not importable yet"
)
