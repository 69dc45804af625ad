"""The body an alert posts to its webhook: cytasks JSON, or a Slack-compatible message."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

MAX_MESSAGE_CHARS = 500
VERBS = {"run.failed": "failed", "run.timed_out": "timed out"}


def summary(event: dict[str, Any]) -> str:
    """One line: which run of which task did what, and why."""
    task = f"task {event['task_name']}" if event.get("task_name") else "an ad-hoc script"
    if event.get("late_seconds") is not None:
        return f"Run {event['run_id']} of {task} started {event['late_seconds']:g} s after its schedule's fire time {event['scheduled_time']}"
    if event.get("waiting_seconds") is not None:
        asked = str((event.get("question") or {}).get("question") or "")[:MAX_MESSAGE_CHARS]
        return f"Run {event['run_id']} of {task} has waited {event['waiting_seconds']:g} s for an answer to: {asked}"
    if event.get("pending_seconds") is not None:
        return f"Run {event['run_id']} of {task} has been pending for {event['pending_seconds']:g} s, waiting for a concurrency slot"
    line = f"Run {event['run_id']} of {task} {VERBS.get(event['type'], event.get('status'))}"
    error = event.get("error") or {}
    if error.get("type"):
        message = str(error.get("message") or "")[:MAX_MESSAGE_CHARS]
        line += f": {error['type']}: {message}"
    return line


def shown_url(url: str) -> str:
    """A webhook URL without its path and query, which may be its credential (a Slack
    incoming webhook's path is), nor any user info."""
    parts = urlsplit(url)
    hidden = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}{hidden}"


def slack_escaped(text: str) -> str:
    """Text Slack shows as written (its control sequences ``<...>`` and entities disarmed)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def alert_body(alert: dict[str, Any], event: dict[str, Any], format: str) -> dict[str, Any]:
    """``alert`` is ``{"id", "name"}``; ``format`` is ``json`` or ``slack``."""
    text = summary(event)
    if format == "slack":
        # Run errors and question texts are anybody's words: escaped, they cannot mention
        # @channel or make links.
        quoted = slack_escaped(text)
        return {
            "text": f"[cytasks] {quoted}",
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*{slack_escaped(alert['name'])}*\n{quoted}", "verbatim": True}},
                {
                    "type": "context",
                    "elements": [
                        {"type": "mrkdwn", "text": f"event `{event['type']}` · run `{event['run_id']}` · trigger `{event['trigger']}`"}
                    ],
                },
            ],
        }
    return {"alert": alert, "event": event, "text": text}
