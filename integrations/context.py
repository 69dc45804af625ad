"""What a side-effecting tool receives when it runs inside an activity."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .credentials import CredentialStore


@dataclass
class ToolOutput:
    """A tool result plus the LLM token usage it incurred (summed into the run)."""

    value: Any
    llm_usage: dict[str, int] | None = None


@dataclass
class ToolContext:
    """Handed to tools registered with ``uses_host=True`` when they run as activities.

    It carries the run's identity and the task settings a tool may need (the task's
    ``directive`` and ``llm_config``), and resolves credentials on demand so that no
    secret ever travels through workflow history.
    """

    run_id: str = ""
    task_id: str | None = None
    directive: str | None = None
    llm_config: dict[str, Any] = field(default_factory=dict)
    credentials: CredentialStore = field(default_factory=CredentialStore)
    logs: list[str] = field(default_factory=list)

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def log(self, message: str) -> None:
        self.logs.append(message)

    def credential(self, name: str) -> str:
        return self.credentials.get(name)
