"""SQLAlchemy models. The schema itself is owned by the Alembic migrations in persistence/migrations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY as PG_ARRAY
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from persistence.ids import new_uuid7
from taskrun.contract import RUN_STATUSES, TERMINAL_RUN_STATUSES

TASK_STATUSES = ("enabled", "disabled", "archived")
TASK_MODES = ("saved", "ad_hoc")
TASK_SCOPES = ("input", "processing", "output")
ORIGIN_TYPES = ("system", "user", "pack")
RUN_TRIGGERS = ("api", "adhoc", "schedule", "workflow_node", "cli", "ui", "task", "webhook", "mcp", "event")
HOOK_AUTH_MODES = ("signature", "api_key")
STORAGE_KINDS = ("inline", "file", "s3")

# Fields whose change makes a new immutable task version.
VERSIONED_TASK_FIELDS = (
    "script",
    "directive",
    "input_schema",
    "output_schema",
    "llm_config",
    "timeout_seconds",
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _nullable_jsonb() -> JSONB:
    return JSONB(none_as_null=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_uuid7)
    name: Mapped[str] = mapped_column(Text, unique=True)
    key_hash: Mapped[str] = mapped_column(Text, unique=True)
    roles: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str | None] = mapped_column(Text)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """One recorded action: who did what to which target, from where, and how it ended."""

    __tablename__ = "audit_log"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_uuid7)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str | None] = mapped_column(Text)
    actor_key_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    action: Mapped[str] = mapped_column(Text)
    target_type: Mapped[str] = mapped_column(Text)
    target_id: Mapped[str | None] = mapped_column(Text)
    source_address: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(Text, server_default="ok")
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint(_in("status", TASK_STATUSES), name="status"),
        CheckConstraint(_in("mode", TASK_MODES), name="mode"),
        CheckConstraint(_in("scope", TASK_SCOPES), name="scope"),
        CheckConstraint(_in("origin_type", ORIGIN_TYPES), name="origin_type"),
        Index("ix_tasks_name", "name"),
        Index("ix_tasks_function", "function"),
        Index("ix_tasks_scope", "scope"),
        Index("ix_tasks_status", "status"),
        Index("ix_tasks_created_at_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_uuid7)
    cy_name: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    directive: Mapped[str | None] = mapped_column(Text)
    function: Mapped[str | None] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text, server_default="processing")
    mode: Mapped[str] = mapped_column(Text, server_default="saved")
    status: Mapped[str] = mapped_column(Text, server_default="enabled")
    origin_type: Mapped[str] = mapped_column(Text, server_default="user")
    integration_id: Mapped[str | None] = mapped_column(Text)
    managed_resource_key: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    script: Mapped[str] = mapped_column(Text)
    input_schema: Mapped[dict[str, Any] | None] = mapped_column(_nullable_jsonb())
    output_schema: Mapped[dict[str, Any] | None] = mapped_column(_nullable_jsonb())
    data_samples: Mapped[list[Any] | None] = mapped_column(_nullable_jsonb())
    llm_config: Mapped[dict[str, Any] | None] = mapped_column(_nullable_jsonb())
    timeout_seconds: Mapped[int | None] = mapped_column(Integer)
    max_concurrency: Mapped[int | None] = mapped_column(Integer)
    schedule: Mapped[dict[str, Any] | None] = mapped_column(_nullable_jsonb())
    test_on_save: Mapped[bool] = mapped_column(Boolean, server_default="false")
    """A new version (or new samples) is refused when the task's data samples fail against it."""
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TaskVersion(Base):
    __tablename__ = "task_versions"
    __table_args__ = (PrimaryKeyConstraint("task_id", "version"),)

    task_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(Integer)
    script: Mapped[str] = mapped_column(Text)
    directive: Mapped[str | None] = mapped_column(Text)
    input_schema: Mapped[dict[str, Any] | None] = mapped_column(_nullable_jsonb())
    output_schema: Mapped[dict[str, Any] | None] = mapped_column(_nullable_jsonb())
    llm_config: Mapped[dict[str, Any] | None] = mapped_column(_nullable_jsonb())
    timeout_seconds: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str | None] = mapped_column(Text)


class TaskRun(Base):
    """One execution. Partitioned by day on created_at; created_at is the time inside the UUIDv7 id."""

    __tablename__ = "task_runs"
    __table_args__ = (
        PrimaryKeyConstraint("id", "created_at"),
        CheckConstraint(_in("status", RUN_STATUSES), name="status"),
        CheckConstraint(_in("trigger", RUN_TRIGGERS), name="trigger"),
        CheckConstraint(_in("input_storage", STORAGE_KINDS), name="input_storage"),
        CheckConstraint(
            f"output_storage IS NULL OR {_in('output_storage', STORAGE_KINDS)}", name="output_storage"
        ),
        Index("ix_task_runs_task_id_created_at", "task_id", "created_at"),
        Index("ix_task_runs_status_created_at", "status", "created_at"),
        Index("ix_task_runs_trigger_created_at", "trigger", "created_at"),
        Index("ix_task_runs_created_at_id", "created_at", "id"),
        {"postgresql_partition_by": "RANGE (created_at)"},
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    task_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="SET NULL")
    )
    task_version: Mapped[int | None] = mapped_column(Integer)
    cy_script: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    trigger: Mapped[str] = mapped_column(Text)
    input_storage: Mapped[str] = mapped_column(Text, server_default="inline")
    input_inline: Mapped[Any] = mapped_column(JSONB)
    input_ref: Mapped[str | None] = mapped_column(Text)
    output_storage: Mapped[str | None] = mapped_column(Text)
    output_inline: Mapped[Any] = mapped_column(JSONB)
    output_ref: Mapped[str | None] = mapped_column(Text)
    error: Mapped[dict[str, Any] | None] = mapped_column(_nullable_jsonb())
    logs_count: Mapped[int] = mapped_column(Integer, server_default="0")
    llm_usage: Mapped[dict[str, Any] | None] = mapped_column(_nullable_jsonb())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    workflow_id: Mapped[str | None] = mapped_column(Text)
    workflow_run_id: Mapped[str | None] = mapped_column(Text)
    scheduled_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    parent_workflow_run_id: Mapped[str | None] = mapped_column(Text)
    workflow_node_instance_id: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(Text)
    waiting_reason: Mapped[str | None] = mapped_column(Text)
    """Why a pending run has not started yet (``waiting_for_slot``)."""

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_RUN_STATUSES


class TaskRunLog(Base):
    """A run's log lines, partitioned like task_runs (on the run's created_at) so retention drops both."""

    __tablename__ = "task_run_logs"
    __table_args__ = (
        PrimaryKeyConstraint("run_id", "run_created_at", "seq"),
        {"postgresql_partition_by": "RANGE (run_created_at)"},
    )

    run_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    run_created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seq: Mapped[int] = mapped_column(Integer)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    message: Mapped[str] = mapped_column(Text)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (
        PrimaryKeyConstraint("scope", "key"),
        Index("ix_idempotency_keys_created_at", "created_at"),
    )

    scope: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(Text)
    run_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    run_created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    request_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WorkflowDefinition(Base):
    """A workflow: saved tasks composed into a graph. Its fields are its current version's."""

    __tablename__ = "workflows"
    __table_args__ = (
        CheckConstraint(_in("status", TASK_STATUSES), name="status"),
        Index("ix_workflows_created_at_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_uuid7)
    name: Mapped[str] = mapped_column(Text, unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="enabled")
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    input_schema: Mapped[dict[str, Any] | None] = mapped_column(_nullable_jsonb())
    nodes: Mapped[list[Any]] = mapped_column(JSONB)
    edges: Mapped[list[Any]] = mapped_column(JSONB)
    schedule: Mapped[dict[str, Any] | None] = mapped_column(_nullable_jsonb())
    """The schedule document (see ``schedules.spec``); not versioned."""
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WorkflowVersion(Base):
    """An immutable version of a workflow: every change makes a new one."""

    __tablename__ = "workflow_versions"
    __table_args__ = (PrimaryKeyConstraint("workflow_id", "version"),)

    workflow_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workflows.id", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    input_schema: Mapped[dict[str, Any] | None] = mapped_column(_nullable_jsonb())
    nodes: Mapped[list[Any]] = mapped_column(JSONB)
    edges: Mapped[list[Any]] = mapped_column(JSONB)
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WorkflowRun(Base):
    """One execution of a workflow; partitioned by day like task_runs. Its task nodes are task
    runs with ``parent_workflow_run_id`` set to this id."""

    __tablename__ = "workflow_runs"
    __table_args__ = (
        PrimaryKeyConstraint("id", "created_at"),
        CheckConstraint(_in("status", RUN_STATUSES), name="status"),
        CheckConstraint(_in("trigger", RUN_TRIGGERS), name="trigger"),
        Index("ix_workflow_runs_created_at_id", "created_at", "id"),
        Index("ix_workflow_runs_workflow_id_created_at_id", "workflow_id", "created_at", "id"),
        Index("ix_workflow_runs_status_created_at_id", "status", "created_at", "id"),
        {"postgresql_partition_by": "RANGE (created_at)"},
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    workflow_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workflows.id", ondelete="SET NULL")
    )
    workflow_name: Mapped[str | None] = mapped_column(Text)
    workflow_version: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    trigger: Mapped[str] = mapped_column(Text)
    input_storage: Mapped[str] = mapped_column(Text, server_default="inline")
    input_inline: Mapped[Any] = mapped_column(JSONB)
    input_ref: Mapped[str | None] = mapped_column(Text)
    output_storage: Mapped[str | None] = mapped_column(Text)
    output_inline: Mapped[Any] = mapped_column(JSONB)
    output_ref: Mapped[str | None] = mapped_column(Text)
    error: Mapped[dict[str, Any] | None] = mapped_column(_nullable_jsonb())
    nodes: Mapped[dict[str, Any] | None] = mapped_column(_nullable_jsonb())
    """Per node, once the run has ended: status, timings, task run ids, error."""
    graph: Mapped[dict[str, Any] | None] = mapped_column(_nullable_jsonb())
    """The pinned definition the run executes: nodes (with task ids and versions) and edges."""
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    temporal_workflow_id: Mapped[str | None] = mapped_column(Text)
    scheduled_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """The fire time of the schedule that started the run (trigger ``schedule``)."""
    created_by: Mapped[str | None] = mapped_column(Text)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, server_default="false")

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_RUN_STATUSES


PARTITIONED_TABLES = {"task_runs": "created_at", "task_run_logs": "run_created_at", "workflow_runs": "created_at"}


QUESTION_STATUSES = ("pending", "answered", "expired")


class Question(Base):
    """A question a paused run asks a person (one per hi-latency call)."""

    __tablename__ = "questions"
    __table_args__ = (
        CheckConstraint(_in("status", QUESTION_STATUSES), name="status"),
        Index("ix_questions_created_at_id", "created_at", "id"),
        Index("ix_questions_status_created_at", "status", "created_at"),
        Index("ix_questions_run_id", "run_id"),
        Index("ix_questions_task_id_created_at", "task_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    run_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    run_created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    task_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    tool: Mapped[str] = mapped_column(Text)
    line: Mapped[int] = mapped_column(Integer, server_default="0")
    column: Mapped[int] = mapped_column(Integer, server_default="0")
    question: Mapped[str] = mapped_column(Text)
    responses: Mapped[list[Any] | None] = mapped_column(_nullable_jsonb())
    form: Mapped[dict[str, Any] | None] = mapped_column(_nullable_jsonb())
    assignees: Mapped[list[str]] = mapped_column(PG_ARRAY(Text), server_default="{}")
    timeout_seconds: Mapped[float | None] = mapped_column()
    default: Mapped[Any] = mapped_column(_nullable_jsonb())
    has_default: Mapped[bool] = mapped_column(server_default="false")
    details: Mapped[dict[str, Any] | None] = mapped_column(_nullable_jsonb())
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    timeout_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answer: Mapped[Any] = mapped_column(_nullable_jsonb())
    answered_by: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answer_source: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_reason: Mapped[str | None] = mapped_column(Text)
    notification: Mapped[dict[str, Any] | None] = mapped_column(_nullable_jsonb())


class AnswerAudit(Base):
    """Every answer given to a question, accepted or refused: who, when, what, from where."""

    __tablename__ = "answer_audit"
    __table_args__ = (
        Index("ix_answer_audit_question_id", "question_id"),
        Index("ix_answer_audit_run_id", "run_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    question_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    run_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    answer: Mapped[Any] = mapped_column(_nullable_jsonb())
    answered_by: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    client_address: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Hook(Base):
    """An inbound webhook: a delivery to its URL starts a run of its task or its workflow.

    ``secret`` is the HMAC key deliveries are signed with; it is returned only when the hook is
    created or its secret rotated."""

    __tablename__ = "hooks"
    __table_args__ = (
        CheckConstraint(_in("auth", HOOK_AUTH_MODES), name="auth"),
        CheckConstraint("(task_id IS NULL) <> (workflow_id IS NULL)", name="one_target"),
        Index("ix_hooks_task_id", "task_id"),
        Index("ix_hooks_workflow_id", "workflow_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_uuid7)
    task_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE"))
    workflow_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workflows.id", ondelete="CASCADE")
    )
    name: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    auth: Mapped[str] = mapped_column(Text, server_default="signature")
    headers: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    """Request header names (lower case) copied into the run input."""
    dedup_key: Mapped[str | None] = mapped_column(Text)
    """A JSON pointer into the body: deliveries with a value already seen start no new run."""
    replay_window_seconds: Mapped[int] = mapped_column(Integer, server_default="300")
    secret: Mapped[str] = mapped_column(Text)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


DELIVERY_STATUSES = ("pending", "delivered", "failed", "refused")
SUBSCRIBER_KINDS = ("rule", "alert")


class EventRule(Base):
    """On an event (of these types, from this task or any), start a task or a workflow with the event as input."""

    __tablename__ = "event_rules"
    __table_args__ = (
        Index("ix_event_rules_source_task_id", "source_task_id", postgresql_where="enabled"),
        Index("ix_event_rules_created_at_id", "created_at", "id"),
        CheckConstraint("(target_task_id IS NULL) <> (target_workflow_id IS NULL)", name="one_target"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_uuid7)
    name: Mapped[str] = mapped_column(Text, unique=True)
    event_types: Mapped[list[str]] = mapped_column(PG_ARRAY(Text))
    source_task_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE")
    )
    match: Mapped[list[Any]] = mapped_column(JSONB, server_default="[]")
    target_task_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE"))
    target_workflow_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workflows.id", ondelete="CASCADE")
    )
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Alert(Base):
    """Notify a signed webhook when a run of a task (or of any task without an alert) fails or times out."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint("format IN ('json', 'slack')", name="format"),
        Index("ix_alerts_task_id", "task_id", postgresql_where="enabled"),
        Index("ix_alerts_created_at_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_uuid7)
    name: Mapped[str] = mapped_column(Text, unique=True)
    task_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE"))
    on: Mapped[list[str]] = mapped_column(PG_ARRAY(Text))
    pending_over_seconds: Mapped[float | None] = mapped_column()
    """Alert once when a run has waited this long for a concurrency slot of its task."""
    question_waiting_over_seconds: Mapped[float | None] = mapped_column()
    """Alert once per question that has waited this long for an answer."""
    schedule_late_over_seconds: Mapped[float | None] = mapped_column()
    """Alert when a schedule's fire starts its run this much later than its fire time."""
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str | None] = mapped_column(Text)
    format: Mapped[str] = mapped_column(Text, server_default="json")
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class EventDelivery(Base):
    """One event handed to one rule or alert: at most one row per (subscriber, event)."""

    __tablename__ = "event_deliveries"
    __table_args__ = (
        CheckConstraint(_in("status", DELIVERY_STATUSES), name="status"),
        CheckConstraint(_in("subscriber_kind", SUBSCRIBER_KINDS), name="subscriber_kind"),
        Index("uq_event_deliveries_subscriber_id_event_id", "subscriber_id", "event_id", unique=True),
        Index("ix_event_deliveries_subscriber_id_created_at", "subscriber_id", "created_at"),
        Index("ix_event_deliveries_source_run_id", "source_run_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_uuid7)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    event_type: Mapped[str] = mapped_column(Text)
    source_run_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    subscriber_kind: Mapped[str] = mapped_column(Text)
    subscriber_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    target_run_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
