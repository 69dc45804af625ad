"""Events: rules that start a task on an event, alerts that notify a signed webhook, and the
record of every delivery (one row per subscriber and event). Runs a rule starts have the
trigger ``event``.

Revision ID: 0013_events
Revises: 0012_mcp_trigger
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0013_events"
down_revision = "0012_mcp_trigger"
branch_labels = None
depends_on = None

TRIGGERS = "'api', 'adhoc', 'schedule', 'workflow_node', 'cli', 'ui', 'task', 'webhook', 'mcp'"


def _triggers(table: str, allowed: str) -> str:
    return f"""
        ALTER TABLE {table} DROP CONSTRAINT ck_{table}_trigger;
        ALTER TABLE {table} ADD CONSTRAINT ck_{table}_trigger CHECK (trigger IN ({allowed}));
    """


def upgrade() -> None:
    wider = TRIGGERS + ", 'event'"
    op.execute(
        _triggers("task_runs", wider)
        + _triggers("workflow_runs", wider)
        + """
        CREATE TABLE event_rules (
            id uuid PRIMARY KEY,
            name text NOT NULL CONSTRAINT uq_event_rules_name UNIQUE,
            event_types text[] NOT NULL,
            source_task_id uuid REFERENCES tasks (id) ON DELETE CASCADE,
            match jsonb NOT NULL DEFAULT '[]',
            target_task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
            enabled boolean NOT NULL DEFAULT true,
            created_by text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_event_rules_source_task_id ON event_rules (source_task_id) WHERE enabled;
        CREATE INDEX ix_event_rules_created_at_id ON event_rules (created_at DESC, id DESC);

        CREATE TABLE alerts (
            id uuid PRIMARY KEY,
            name text NOT NULL CONSTRAINT uq_alerts_name UNIQUE,
            task_id uuid REFERENCES tasks (id) ON DELETE CASCADE,
            "on" text[] NOT NULL,
            pending_over_seconds double precision,
            question_waiting_over_seconds double precision,
            schedule_late_over_seconds double precision,
            url text NOT NULL,
            secret text,
            format text NOT NULL DEFAULT 'json' CONSTRAINT ck_alerts_format CHECK (format IN ('json', 'slack')),
            enabled boolean NOT NULL DEFAULT true,
            created_by text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_alerts_task_id ON alerts (task_id) WHERE enabled;
        CREATE INDEX ix_alerts_created_at_id ON alerts (created_at DESC, id DESC);

        CREATE TABLE event_deliveries (
            id uuid PRIMARY KEY,
            event_id uuid NOT NULL,
            event_type text NOT NULL,
            source_run_id uuid NOT NULL,
            subscriber_kind text NOT NULL
                CONSTRAINT ck_event_deliveries_subscriber_kind CHECK (subscriber_kind IN ('rule', 'alert')),
            subscriber_id uuid NOT NULL,
            target_run_id uuid,
            status text NOT NULL DEFAULT 'pending'
                CONSTRAINT ck_event_deliveries_status CHECK (status IN ('pending', 'delivered', 'failed', 'refused')),
            attempts integer NOT NULL DEFAULT 0,
            error text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            delivered_at timestamptz
        );
        CREATE UNIQUE INDEX uq_event_deliveries_subscriber_id_event_id ON event_deliveries (subscriber_id, event_id);
        CREATE INDEX ix_event_deliveries_subscriber_id_created_at ON event_deliveries (subscriber_id, created_at DESC);
        CREATE INDEX ix_event_deliveries_source_run_id ON event_deliveries (source_run_id);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE event_deliveries;
        DROP TABLE alerts;
        DROP TABLE event_rules;
        DELETE FROM task_runs WHERE trigger = 'event';
        DELETE FROM workflow_runs WHERE trigger = 'event';
        """
        + _triggers("task_runs", TRIGGERS)
        + _triggers("workflow_runs", TRIGGERS)
    )
