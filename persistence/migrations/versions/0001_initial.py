"""Tasks, versions, partitioned runs and logs, API keys, idempotency keys.

Revision ID: 0001_initial
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE api_keys (
            id uuid NOT NULL,
            name text NOT NULL,
            key_hash text NOT NULL,
            roles text[] NOT NULL DEFAULT '{}',
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_api_keys PRIMARY KEY (id),
            CONSTRAINT uq_api_keys_name UNIQUE (name),
            CONSTRAINT uq_api_keys_key_hash UNIQUE (key_hash)
        );

        CREATE TABLE tasks (
            id uuid NOT NULL,
            cy_name text NOT NULL,
            name text NOT NULL,
            description text,
            directive text,
            function text,
            scope text NOT NULL DEFAULT 'processing',
            mode text NOT NULL DEFAULT 'saved',
            status text NOT NULL DEFAULT 'enabled',
            origin_type text NOT NULL DEFAULT 'user',
            integration_id text,
            managed_resource_key text,
            version integer NOT NULL DEFAULT 1,
            script text NOT NULL,
            input_schema jsonb,
            output_schema jsonb,
            data_samples jsonb,
            llm_config jsonb,
            timeout_seconds integer,
            max_concurrency integer,
            schedule jsonb,
            created_by text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_tasks PRIMARY KEY (id),
            CONSTRAINT uq_tasks_cy_name UNIQUE (cy_name),
            CONSTRAINT ck_tasks_status CHECK (status IN ('enabled', 'disabled', 'archived')),
            CONSTRAINT ck_tasks_mode CHECK (mode IN ('saved', 'ad_hoc')),
            CONSTRAINT ck_tasks_scope CHECK (scope IN ('input', 'processing', 'output')),
            CONSTRAINT ck_tasks_origin_type CHECK (origin_type IN ('system', 'user', 'pack')),
            CONSTRAINT ck_tasks_version CHECK (version >= 1)
        );
        CREATE INDEX ix_tasks_name ON tasks (name);
        CREATE INDEX ix_tasks_function ON tasks (function);
        CREATE INDEX ix_tasks_scope ON tasks (scope);
        CREATE INDEX ix_tasks_status ON tasks (status);
        CREATE INDEX ix_tasks_created_at_id ON tasks (created_at DESC, id DESC);

        CREATE TABLE task_versions (
            task_id uuid NOT NULL,
            version integer NOT NULL,
            script text NOT NULL,
            directive text,
            input_schema jsonb,
            output_schema jsonb,
            llm_config jsonb,
            timeout_seconds integer,
            created_at timestamptz NOT NULL DEFAULT now(),
            created_by text,
            CONSTRAINT pk_task_versions PRIMARY KEY (task_id, version),
            CONSTRAINT fk_task_versions_task_id_tasks FOREIGN KEY (task_id)
                REFERENCES tasks (id) ON DELETE CASCADE
        );

        -- Versions are immutable once written.
        CREATE FUNCTION task_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'task versions are immutable (task %, version %)', OLD.task_id, OLD.version
                USING ERRCODE = 'restrict_violation';
        END $$;
        CREATE TRIGGER task_versions_no_update BEFORE UPDATE ON task_versions
            FOR EACH ROW EXECUTE FUNCTION task_versions_immutable();

        CREATE TABLE task_runs (
            id uuid NOT NULL,
            created_at timestamptz NOT NULL,
            task_id uuid,
            task_version integer,
            cy_script text,
            status text NOT NULL DEFAULT 'pending',
            trigger text NOT NULL,
            input_storage text NOT NULL DEFAULT 'inline',
            input_inline jsonb,
            input_ref text,
            output_storage text,
            output_inline jsonb,
            output_ref text,
            error jsonb,
            logs_count integer NOT NULL DEFAULT 0,
            llm_usage jsonb,
            started_at timestamptz,
            completed_at timestamptz,
            duration_ms bigint,
            workflow_id text,
            workflow_run_id text,
            scheduled_time timestamptz,
            parent_workflow_run_id text,
            workflow_node_instance_id text,
            created_by text,
            CONSTRAINT pk_task_runs PRIMARY KEY (id, created_at),
            CONSTRAINT fk_task_runs_task_id_tasks FOREIGN KEY (task_id)
                REFERENCES tasks (id) ON DELETE SET NULL,
            CONSTRAINT ck_task_runs_status CHECK (status IN
                ('pending', 'running', 'paused', 'completed', 'failed', 'cancelled', 'timed_out')),
            CONSTRAINT ck_task_runs_trigger CHECK (trigger IN
                ('api', 'adhoc', 'schedule', 'workflow_node', 'cli', 'ui')),
            CONSTRAINT ck_task_runs_input_storage CHECK (input_storage IN ('inline', 'file', 's3')),
            CONSTRAINT ck_task_runs_output_storage CHECK (
                output_storage IS NULL OR output_storage IN ('inline', 'file', 's3')),
            CONSTRAINT ck_task_runs_script CHECK (task_id IS NOT NULL OR cy_script IS NOT NULL)
        ) PARTITION BY RANGE (created_at);
        CREATE INDEX ix_task_runs_task_id_created_at ON task_runs (task_id, created_at DESC);
        CREATE INDEX ix_task_runs_status_created_at ON task_runs (status, created_at DESC);
        CREATE INDEX ix_task_runs_trigger_created_at ON task_runs (trigger, created_at DESC);
        CREATE INDEX ix_task_runs_created_at_id ON task_runs (created_at DESC, id DESC);

        CREATE TABLE task_run_logs (
            run_id uuid NOT NULL,
            run_created_at timestamptz NOT NULL,
            seq integer NOT NULL,
            ts timestamptz NOT NULL DEFAULT now(),
            message text NOT NULL,
            CONSTRAINT pk_task_run_logs PRIMARY KEY (run_id, run_created_at, seq)
        ) PARTITION BY RANGE (run_created_at);

        CREATE TABLE idempotency_keys (
            scope text NOT NULL,
            key text NOT NULL,
            run_id uuid NOT NULL,
            run_created_at timestamptz NOT NULL,
            request_hash text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_idempotency_keys PRIMARY KEY (scope, key)
        );
        CREATE INDEX ix_idempotency_keys_created_at ON idempotency_keys (created_at);

        CREATE TABLE task_runs_default PARTITION OF task_runs DEFAULT;
        CREATE TABLE task_run_logs_default PARTITION OF task_run_logs DEFAULT;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE IF EXISTS idempotency_keys;
        DROP TABLE IF EXISTS task_run_logs;
        DROP TABLE IF EXISTS task_runs;
        DROP TABLE IF EXISTS task_versions;
        DROP FUNCTION IF EXISTS task_versions_immutable();
        DROP TABLE IF EXISTS tasks;
        DROP TABLE IF EXISTS api_keys;
        """
    )
