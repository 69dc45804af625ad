"""Workflows: definitions and their versions, and workflow runs (partitioned by day like task
runs); task runs find the workflow run they belong to by an index; a run a task's script
started (``app::tasks::run``) has the trigger ``task``.

Revision ID: 0007_workflows
Revises: 0006_run_waiting_reason
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

from persistence.partitions import replace_default_partitions_sync

revision = "0007_workflows"
down_revision = "0006_run_waiting_reason"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE workflows (
            id uuid PRIMARY KEY,
            name text NOT NULL UNIQUE,
            description text,
            status text NOT NULL DEFAULT 'enabled'
                CONSTRAINT ck_workflows_status CHECK (status IN ('enabled', 'disabled', 'archived')),
            version integer NOT NULL DEFAULT 1,
            input_schema jsonb,
            nodes jsonb NOT NULL,
            edges jsonb NOT NULL,
            created_by text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_workflows_created_at_id ON workflows (created_at, id);

        CREATE TABLE workflow_versions (
            workflow_id uuid NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
            version integer NOT NULL,
            name text NOT NULL,
            description text,
            input_schema jsonb,
            nodes jsonb NOT NULL,
            edges jsonb NOT NULL,
            created_by text,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workflow_id, version)
        );

        CREATE TABLE workflow_runs (
            id uuid NOT NULL,
            created_at timestamptz NOT NULL,
            workflow_id uuid REFERENCES workflows (id) ON DELETE SET NULL,
            workflow_name text,
            workflow_version integer,
            status text NOT NULL DEFAULT 'pending'
                CONSTRAINT ck_workflow_runs_status CHECK (status IN
                    ('pending', 'running', 'paused', 'completed', 'failed', 'cancelled', 'timed_out')),
            trigger text NOT NULL
                CONSTRAINT ck_workflow_runs_trigger CHECK (trigger IN
                    ('api', 'adhoc', 'schedule', 'workflow_node', 'cli', 'ui', 'task')),
            input_storage text NOT NULL DEFAULT 'inline',
            input_inline jsonb,
            input_ref text,
            output_storage text,
            output_inline jsonb,
            output_ref text,
            error jsonb,
            nodes jsonb,
            graph jsonb,
            started_at timestamptz,
            completed_at timestamptz,
            duration_ms bigint,
            temporal_workflow_id text,
            created_by text,
            cancel_requested boolean NOT NULL DEFAULT false,
            PRIMARY KEY (id, created_at)
        ) PARTITION BY RANGE (created_at);
        CREATE INDEX ix_workflow_runs_created_at_id ON workflow_runs (created_at DESC, id DESC);
        CREATE INDEX ix_workflow_runs_workflow_id_created_at_id ON workflow_runs (workflow_id, created_at DESC, id DESC);
        CREATE INDEX ix_workflow_runs_status_created_at_id ON workflow_runs (status, created_at DESC, id DESC);

        ALTER TABLE task_runs DROP CONSTRAINT ck_task_runs_trigger;
        ALTER TABLE task_runs ADD CONSTRAINT ck_task_runs_trigger CHECK (trigger IN
            ('api', 'adhoc', 'schedule', 'workflow_node', 'cli', 'ui', 'task'));

        CREATE INDEX IF NOT EXISTS ix_task_runs_parent_workflow_run_id
            ON task_runs (parent_workflow_run_id) WHERE parent_workflow_run_id IS NOT NULL;
        """
    )
    replace_default_partitions_sync(op.get_bind(), ("workflow_runs",))


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX IF EXISTS ix_task_runs_parent_workflow_run_id;
        DELETE FROM task_runs WHERE trigger = 'task';
        ALTER TABLE task_runs DROP CONSTRAINT ck_task_runs_trigger;
        ALTER TABLE task_runs ADD CONSTRAINT ck_task_runs_trigger CHECK (trigger IN
            ('api', 'adhoc', 'schedule', 'workflow_node', 'cli', 'ui'));
        DROP TABLE workflow_runs;
        DROP TABLE workflow_versions;
        DROP TABLE workflows;
        """
    )
