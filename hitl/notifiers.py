"""Notifiers deliver a new question to people; the answer always comes back through the API.

A notifier is a callable taking the notice (a JSON-ready dict, see :func:`notice`) and
returning ``None`` or an awaitable. It runs inside the ``notify_question`` activity, so it
may do I/O and is retried on failure. Which notifier a question uses:

* ``ToolSpec.metadata["notifier"]`` of the hi-latency tool: a callable, the name of a
  registered notifier, or ``"none"``;
* otherwise the built-in webhook when ``CYTASKS_HITL_WEBHOOK_URL`` is set;
* otherwise none (the question is listed by ``GET /v1/questions``).
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import json
from typing import Any, Awaitable, Callable

import httpx

from .settings import HitlSettings, get_hitl_settings

Notifier = Callable[[dict[str, Any]], "Awaitable[None] | None"]

_NOTIFIERS: dict[str, Notifier] = {}


class NotificationError(RuntimeError):
    pass


def register_notifier(name: str, notifier: Notifier) -> None:
    """Make a notifier selectable by name from ``ToolSpec.metadata["notifier"]``."""
    if not callable(notifier):
        raise ValueError(f"notifier {name!r} must be callable")
    _NOTIFIERS[name] = notifier


def notice(question: dict[str, Any], settings: HitlSettings | None = None) -> dict[str, Any]:
    """The JSON a notifier receives: the question, and how to answer it."""
    settings = settings or get_hitl_settings()
    respond_path = f"/v1/task-runs/{question['run_id']}/respond"
    body = {
        "event": "question.created",
        "question": {
            key: question.get(key)
            for key in (
                "id",
                "run_id",
                "task_id",
                "task_name",
                "tool",
                "line",
                "question",
                "responses",
                "form",
                "assignees",
                "timeout_seconds",
                "created_at",
                "timeout_at",
                "details",
            )
        },
        "respond": {
            "method": "POST",
            "path": respond_path,
            "url": settings.PUBLIC_API_URL.rstrip("/") + respond_path if settings.PUBLIC_API_URL else None,
            "body": {"question_id": question["id"], "answer": "<answer>"},
        },
    }
    return body


class WebhookNotifier:
    """POST the notice as JSON to a URL; any non-2xx answer is a failure (and is retried)."""

    def __init__(self, url: str, secret: str | None = None, timeout: float = 10.0) -> None:
        self.url = url
        self.secret = secret
        self.timeout = timeout

    async def __call__(self, body: dict[str, Any]) -> None:
        data = json.dumps(body, separators=(",", ":"), default=str).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "cytasks-hitl"}
        if self.secret:
            digest = hmac.new(self.secret.encode(), data, hashlib.sha256).hexdigest()
            headers["X-Cytasks-Signature"] = f"sha256={digest}"
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            try:
                response = await client.post(self.url, content=data, headers=headers)
            except httpx.HTTPError as error:
                raise NotificationError(f"webhook {self.url} unreachable: {type(error).__name__}: {error}") from None
        if response.status_code >= 300:
            raise NotificationError(f"webhook {self.url} answered HTTP {response.status_code}")


def default_notifier(settings: HitlSettings | None = None) -> Notifier | None:
    settings = settings or get_hitl_settings()
    if settings.WEBHOOK_URL:
        return WebhookNotifier(settings.WEBHOOK_URL, settings.WEBHOOK_SECRET, settings.WEBHOOK_TIMEOUT_SECONDS)
    return None


def resolve_notifier(tool_metadata: dict[str, Any] | None, settings: HitlSettings | None = None) -> Notifier | None:
    choice = (tool_metadata or {}).get("notifier")
    if choice is None or choice == "webhook":
        return default_notifier(settings)
    if choice == "none":
        return None
    if isinstance(choice, str):
        if choice not in _NOTIFIERS:
            raise NotificationError(f"no notifier named {choice!r} is registered")
        return _NOTIFIERS[choice]
    if callable(choice):
        return choice
    raise NotificationError(f"notifier must be a callable or a name, got {type(choice).__name__}")


async def deliver(notifier: Notifier, body: dict[str, Any]) -> None:
    result = notifier(body)
    if inspect.isawaitable(result):
        await result
