"""HITL configuration, from ``CYTASKS_HITL_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class HitlSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CYTASKS_HITL_", env_file=".env", env_ignore_empty=True, extra="ignore"
    )

    WEBHOOK_URL: str | None = None
    """Where the built-in webhook notifier POSTs every new question (JSON); unset: no webhook."""
    WEBHOOK_SECRET: str | None = None
    """When set, each webhook request carries ``X-Cytasks-Signature: sha256=<HMAC of the body>``."""
    WEBHOOK_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)
    PUBLIC_API_URL: str | None = None
    """The API's base URL as people reach it; when set, notifications include the respond URL."""


@lru_cache
def get_hitl_settings() -> HitlSettings:
    return HitlSettings()
