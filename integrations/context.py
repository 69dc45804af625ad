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
    secrets: dict[str, str] = field(default_factory=dict)
    """Every secret value this call has used, by name: redacted from what it returns."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def log(self, message: str) -> None:
        self.logs.append(message)

    def credential(self, name: str) -> str:
        return self.used(name, self.credentials.get(name))

    def credential_for(self, name: str, url: str, default_hosts: list[str] | None = None) -> str:
        """A credential to put into a request to ``url``, if its host binding allows it."""
        return self.used(name, self.credentials.for_url(name, url, default_hosts))

    def used(self, name: str, value: str) -> str:
        if value:
            self.secrets[name] = value
        return value

    def redact(self, value: Any) -> Any:
        """``value`` with every secret this call used replaced by ``[REDACTED:<name>]``."""
        if not self.secrets:
            return value
        return _redact(value, sorted(self.secrets.items(), key=lambda item: -len(item[1])))


def _redact(value: Any, secrets: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        for name, secret in secrets:
            if secret in value:
                value = value.replace(secret, f"[REDACTED:{name}]")
        return value
    if isinstance(value, (list, tuple)):
        return [_redact(item, secrets) for item in value]
    if isinstance(value, dict):
        return {_redact(key, secrets): _redact(item, secrets) for key, item in value.items()}
    return value
