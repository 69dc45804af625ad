"""Process configuration, read from `CYTASKS_*` environment variables (and an optional `.env` file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, computed_field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path.home() / ".cytasks"
MAX_SCRIPT_BYTES_CEILING = 128 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CYTASKS_",
        env_file=".env",
        env_ignore_empty=True,
        extra="ignore",
    )

    DATA_DIR: Path = DEFAULT_DATA_DIR

    DATABASE_URL: str = "postgresql+psycopg://postgres:postgres@127.0.0.1:5432/cytasks"
    DATABASE_POOL_SIZE: int = 10
    DATABASE_MAX_OVERFLOW: int = 20
    DATABASE_POOL_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)
    """How long a request waits for a free database connection before it is answered 503."""
    DATABASE_CONNECT_TIMEOUT_SECONDS: int = Field(default=5, ge=1)
    DATABASE_DRIVER: Literal["asyncpg", "psycopg"] = "asyncpg"
    """The driver of the async engine (the API's and the workers' repositories), whatever driver
    DATABASE_URL is spelled for. Migrations always run on psycopg 3."""
    DATABASE_STATEMENT_TIMEOUT_MS: int = Field(default=60_000, ge=0)
    """Server-side statement_timeout of the async engine's connections (0: none)."""
    RUN_LIST_TIMEOUT_MS: int = Field(default=3_000, ge=0)
    """Longest a run listing may take before it is refused as too broad (0: no limit)."""
    RUN_LIST_PLAN_CACHE_MODE: Literal["force_generic_plan", "auto", "force_custom_plan"] = "force_generic_plan"
    """Postgres plan_cache_mode of run listings. Generic plans skip planning across every
    partition on each request (see docs/performance.md)."""

    TEMPORAL_ADDRESS: str = "127.0.0.1:7233"
    TEMPORAL_NAMESPACE: str = "default"
    TASK_QUEUE: str = "cytasks"

    BLOB_BACKEND: Literal["file", "s3"] = "file"
    BLOB_DIR: Path | None = None
    S3_ENDPOINT_URL: str | None = None
    S3_BUCKET: str = "cytasks"
    S3_PREFIX: str = ""
    S3_ACCESS_KEY_ID: str | None = None
    S3_SECRET_ACCESS_KEY: str | None = None
    S3_REGION: str = "us-east-1"
    INLINE_THRESHOLD_BYTES: int = Field(default=256 * 1024, ge=0)

    API_KEY: str | None = None
    API_HOST: str = "127.0.0.1"
    API_PORT: int = 8000

    MAX_BODY_BYTES: int = Field(default=10 * 1024 * 1024, ge=1024)
    """Largest request body the API reads (413 above it)."""
    HOOK_MAX_BODY_BYTES: int = Field(default=1024 * 1024, ge=1024)
    """Largest body an inbound webhook delivery may carry (413 above it)."""
    PUBLIC_API_URL: str = ""
    """The API's base URL as callers reach it (``https://cytasks.example.com``): webhook URLs
    are given absolute with it; empty: as paths (``CYTASKS_HITL_PUBLIC_API_URL`` is used then)."""
    MAX_JSON_DEPTH: int = Field(default=64, ge=2, le=256)
    """Deepest nesting of arrays and objects accepted in a JSON request body (422 below it)."""
    MAX_SCRIPT_BYTES: int = Field(default=64 * 1024, ge=1)
    """Largest Cy script (UTF-8 bytes) a task or an ad-hoc run may carry."""
    PATTERN_TIMEOUT_SECONDS: float = Field(default=0.5, gt=0, le=10)
    """Time allowed to one JSON Schema `pattern` match; a slower one fails validation."""
    VALIDATION_TIMEOUT_SECONDS: float = Field(default=5.0, gt=0, le=60)
    """Time allowed to the pattern matches of one input validation, together."""

    EVENT_MAX_DEPTH: int = Field(default=5, ge=0, le=100)
    """How many event rules in a row may start runs: a rule whose run would be deeper does not
    fire (its delivery is recorded ``refused``), so rules cannot loop."""
    SCHEDULE_MISSED_AFTER_SECONDS: float = Field(default=60.0, gt=0)
    """A schedule fire whose run starts this much later than its fire time makes the event
    ``schedule.missed`` (rules may start a task on it)."""
    EVENT_WEBHOOK_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0, le=50)
    """How long an alert's webhook may take to answer, the whole exchange (a slower one is
    retried); below the delivery activity's 60 s, so an attempt never outlives its activity."""

    LLM_BASE_URL: str = "https://api.openai.com/v1"
    LLM_API_KEY: str | None = None
    LLM_MODEL: str = "gpt-4o-mini"
    LLM_TIMEOUT_SECONDS: float = 120.0

    WORKFLOW_SANDBOX: bool = False
    """Run workflow code inside the Temporal SDK's sandbox. Off by default: Cy scripts are
    deterministic by construction (everything non-deterministic goes through the host) and
    the sandbox adds tens of milliseconds to every run; CI replays recorded histories inside
    the sandbox to keep the workflow code clean."""

    MAX_CACHED_WORKFLOWS: int = Field(default=200, ge=1)
    """Workflows a worker keeps in its sticky cache (paused runs included)."""

    WORKFLOW_TASK_POLLERS: int = Field(default=5, ge=2, le=100)
    """Concurrent polls for workflow tasks (sticky and normal queue together). A burst of new
    workflows (a fan-out of workflow nodes, many runs at once) is picked up faster with more."""
    UI_SESSION_SECRET: str = ""
    """Signs the console's session cookies. Give every API process the same one (sessions then
    survive restarts and work across processes); empty: a random secret for this process."""

    UI_SESSION_HOURS: float = Field(default=12, gt=0, le=24 * 30)
    """How long a console sign-in lasts."""

    TEMPORAL_UI_URL: str = ""
    """The Temporal UI (``http://127.0.0.1:8233``): the console links each run to its workflow
    there; empty: no link."""

    WORKER_METRICS_PORT: int = Field(default=0, ge=0, le=65535)
    """Port of a worker's Prometheus `/metrics` (runs finished, tool calls); 0: not served."""

    WORKER_METRICS_HOST: str = "127.0.0.1"
    """Address the worker's metrics ports listen on (`0.0.0.0` to be scraped from elsewhere)."""

    WORKER_TEMPORAL_METRICS_PORT: int = Field(default=0, ge=0, le=65535)
    """Port where a worker's Temporal SDK serves its own Prometheus metrics (workflow and
    activity task latencies, slots, polls, sticky cache); 0: not served."""

    PLUGINS: str = ""
    """Extra tool-registration hooks, comma-separated `module:callable` (besides entry points)."""

    RUN_WATCH_INTERVAL_SECONDS: float = Field(default=30, ge=1, le=3600)
    """How often the run watcher reconciles rows with workflows closed outside the API."""
    CANCEL_GRACE_SECONDS: float = Field(default=30, ge=0, le=86400)
    """How long a cancelled run's workflow has to stop before it is terminated."""
    STUCK_WORKFLOW_TASK_ATTEMPTS: int = Field(default=10, ge=2, le=1000)
    """A run whose workflow task failed this many times in a row is ended as failed."""

    RUN_RETENTION_DAYS: int = Field(default=90, ge=1)
    PARTITION_DAYS_AHEAD: int = Field(default=7, ge=1)

    @field_validator("MAX_SCRIPT_BYTES")
    @classmethod
    def _script_compiles_within_one_activation(cls, value: int) -> int:
        # The worker compiles a run's script inside one workflow activation, which Temporal
        # fails after 2 s; 128 KiB is the most that compiles well inside that.
        if value > MAX_SCRIPT_BYTES_CEILING:
            raise ValueError(
                f"MAX_SCRIPT_BYTES {value} is above {MAX_SCRIPT_BYTES_CEILING}: a larger script may not "
                "compile within the 2 s Temporal allows one workflow activation"
            )
        return value

    @computed_field  # type: ignore[prop-decorator]
    @property
    def blob_dir(self) -> Path:
        """Where the file blob store keeps its objects: BLOB_DIR, else <DATA_DIR>/blobs."""
        return self.BLOB_DIR if self.BLOB_DIR is not None else self.DATA_DIR / "blobs"


@lru_cache
def get_settings() -> Settings:
    return Settings()
