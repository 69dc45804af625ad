"""The built-in ``app::human::ask`` tool."""

from __future__ import annotations

from typing import Any

from cy.tools import ToolRegistry

from .spec import NOTIFIER_METADATA, QUESTION_METADATA, ask_fields

ASK_FQN = "app::human::ask"


def ask(
    question: str,
    responses: Any = None,
    timeout_seconds: float | None = None,
    default: Any = None,
    assignees: Any = None,
    form: dict | None = None,
) -> Any:
    """Ask a person and return the answer. The run pauses until someone answers through the API
    (`POST /v1/task-runs/{id}/respond`) or the timeout passes (then `default` is returned when
    given, else the run fails with HumanResponseTimeout). `responses`: allowed answers (a list or
    a comma-separated string); `form`: a JSON Schema the answer must match; `assignees`: API key
    names or roles allowed to answer."""
    raise RuntimeError("app::human::ask needs a run that can pause for a human answer")


def register_human_tools(registry: ToolRegistry) -> None:
    registry.register(
        ASK_FQN,
        ask,
        hi_latency=True,
        metadata={QUESTION_METADATA: ask_fields, NOTIFIER_METADATA: "webhook"},
    )
