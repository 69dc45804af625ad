"""Inbound webhooks: the hooks table, and the run trigger ``webhook`` on task and workflow runs.

Revision ID: 0011_webhooks
Revises: 0010_workflow_schedules
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0011_webhooks"
down_revision = "0010_workflow_schedules"
branch_labels = None
depends_on = None

TRIGGERS = "'api', 'adhoc', 'schedule', 'workflow_node', 'cli', 'ui', 'task'"


def _trigger_constraints(triggers: str) -> str:
    return "".join(
        f"""
        ALTER TABLE {table} DROP CONSTRAINT ck_{table}_trigger;
        ALTER TABLE {table} ADD CONSTRAINT ck_{table}_trigger CHECK (trigger IN ({triggers}));
        """
        for table in ("task_runs", "workflow_runs")
    )


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE hooks (
            id uuid PRIMARY KEY,
            task_id uuid REFERENCES tasks (id) ON DELETE CASCADE,
            workflow_id uuid REFERENCES workflows (id) ON DELETE CASCADE,
            name text,
            enabled boolean NOT NULL DEFAULT true,
            auth text NOT NULL DEFAULT 'signature' CONSTRAINT ck_hooks_auth CHECK (auth IN ('signature', 'api_key')),
            headers text[] NOT NULL DEFAULT '{}',
            dedup_key text,
            replay_window_seconds integer NOT NULL DEFAULT 300,
            secret text NOT NULL,
            secret_rotated_at timestamptz,
            created_by text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT ck_hooks_one_target CHECK ((task_id IS NULL) <> (workflow_id IS NULL))
        );
        CREATE INDEX ix_hooks_task_id ON hooks (task_id);
        CREATE INDEX ix_hooks_workflow_id ON hooks (workflow_id);
        """
        + _trigger_constraints(TRIGGERS + ", 'webhook'")
    )


def downgrade() -> None:
    op.execute(
        "DELETE FROM task_runs WHERE trigger = 'webhook';"
        "DELETE FROM workflow_runs WHERE trigger = 'webhook';"
        + _trigger_constraints(TRIGGERS)
        + "DROP TABLE hooks;"
    )
