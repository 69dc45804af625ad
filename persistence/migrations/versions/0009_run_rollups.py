"""Run rollups: per task, per hour and per day, the finished runs by status and trigger with
their durations (a log-spaced histogram) and LLM tokens, and their error types; filled from
the runs already recorded.

Revision ID: 0009_run_rollups
Revises: 0007_workflows
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

from persistence.repository.rollups import HISTOGRAM_BUCKETS, backfill_sql

revision = "0009_run_rollups"
down_revision = "0007_workflows"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        f"""
        CREATE TABLE task_run_rollups (
            period text NOT NULL CONSTRAINT ck_task_run_rollups_period CHECK (period IN ('hour', 'day')),
            task_id uuid,
            start timestamptz NOT NULL,
            status text NOT NULL,
            trigger text NOT NULL,
            runs bigint NOT NULL DEFAULT 0,
            timed_runs bigint NOT NULL DEFAULT 0,
            duration_ms_sum bigint NOT NULL DEFAULT 0,
            duration_histogram bigint[] NOT NULL
                CONSTRAINT ck_task_run_rollups_histogram
                CHECK (cardinality(duration_histogram) = {HISTOGRAM_BUCKETS}),
            llm_prompt_tokens bigint NOT NULL DEFAULT 0,
            llm_completion_tokens bigint NOT NULL DEFAULT 0,
            llm_total_tokens bigint NOT NULL DEFAULT 0,
            CONSTRAINT uq_task_run_rollups_key
                UNIQUE NULLS NOT DISTINCT (period, task_id, start, status, trigger)
        );
        CREATE INDEX ix_task_run_rollups_period_start ON task_run_rollups (period, start);

        CREATE TABLE task_run_error_rollups (
            period text NOT NULL
                CONSTRAINT ck_task_run_error_rollups_period CHECK (period IN ('hour', 'day')),
            task_id uuid,
            start timestamptz NOT NULL,
            error_type text NOT NULL,
            runs bigint NOT NULL DEFAULT 0,
            latest_run_id uuid NOT NULL,
            latest_at timestamptz NOT NULL,
            CONSTRAINT uq_task_run_error_rollups_key
                UNIQUE NULLS NOT DISTINCT (period, task_id, start, error_type)
        );
        CREATE INDEX ix_task_run_error_rollups_period_start ON task_run_error_rollups (period, start);
        """
    )
    for statement in backfill_sql():
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE task_run_error_rollups; DROP TABLE task_run_rollups;")
