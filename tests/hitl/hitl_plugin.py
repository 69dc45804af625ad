"""Tools of the HITL tests, loaded like any plugin (``register(registry)``): a Slack-like pair
(``create_channel`` and the hi-latency ``ask_question_channel``) and ``enrich_alert``."""

from __future__ import annotations

import copy
from typing import Any

from cy.tools import ToolRegistry
from hitl.spec import NOTIFIER_METADATA, QUESTION_METADATA

NOTICES: list[dict[str, Any]] = []
"""What the Slack notifier delivered (in this process)."""


def create_channel(name: str) -> dict:
    return {"name": name, "created": True}


def ask_question_channel(destination: str, question: str, responses: str = "") -> str:
    """Post a question with one button per response in a channel; returns the clicked response."""
    raise RuntimeError("ask_question_channel needs a run that can pause")


def slack_question(args: tuple, kwargs: dict) -> dict:
    named = dict(zip(("destination", "question", "responses"), args))
    named.update(kwargs)
    return {
        "question": named.get("question"),
        "responses": named.get("responses") or None,
        "details": {"destination": named.get("destination")},
    }


async def slack_notifier(notice: dict) -> None:
    NOTICES.append(notice)


def enrich_alert(alert: dict, enrichment: Any, key: str = "hitl_approval") -> dict:
    enriched = copy.deepcopy(alert) if isinstance(alert, dict) else {"alert": alert}
    enriched.setdefault("enrichments", {})
    enriched["enrichments"][key] = enrichment
    return enriched


def register(registry: ToolRegistry) -> None:
    registry.register("app::slack::create_channel", create_channel)
    registry.register(
        "app::slack::ask_question_channel",
        ask_question_channel,
        hi_latency=True,
        metadata={QUESTION_METADATA: slack_question, NOTIFIER_METADATA: slack_notifier},
    )
    if registry.get("native::tools::enrich_alert") is None:
        registry.register("enrich_alert", enrich_alert, pure=True)
