"""Run rollups (persistence/repository/rollups.py): per hour and per day, the finished runs by
status and trigger with their durations (a log-spaced histogram) and LLM tokens, per task
(task_run_rollups) and of all runs (run_rollups, in shards); per task alone (task_rollups, for
ranking tasks); error types per task and of all runs. Filled from the runs already recorded.

Revision ID: 0009_run_rollups
Revises: 0008_task_testing
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

from persistence.repository.rollups import HISTOGRAM_BUCKETS, backfill_sql

revision = "0009_run_rollups"
down_revision = "0008_task_testing"
branch_labels = None
depends_on = None


def _counts(name: str, keys: str, extra: str = "") -> str:
    return f"""
        CREATE TABLE {name} (
            period text NOT NULL CONSTRAINT ck_{name}_period CHECK (period IN ('hour', 'day')),
            {keys},
            runs bigint NOT NULL DEFAULT 0,
            timed_runs bigint NOT NULL DEFAULT 0,
            duration_ms_sum bigint NOT NULL DEFAULT 0,
            duration_histogram bigint[] NOT NULL
                CONSTRAINT ck_{name}_histogram CHECK (cardinality(duration_histogram) = {HISTOGRAM_BUCKETS}),
            {extra}
    """


TOKENS = """
            llm_prompt_tokens bigint NOT NULL DEFAULT 0,
            llm_completion_tokens bigint NOT NULL DEFAULT 0,
            llm_total_tokens bigint NOT NULL DEFAULT 0,"""


def _latest(name: str, keys: str) -> str:
    return f"""
        CREATE TABLE {name} (
            period text NOT NULL CONSTRAINT ck_{name}_period CHECK (period IN ('hour', 'day')),
            {keys},
            error_type text NOT NULL,
            runs bigint NOT NULL DEFAULT 0,
            latest_run_id uuid NOT NULL,
            latest_at timestamptz NOT NULL,
    """


def upgrade() -> None:
    op.execute(
        _counts("task_run_rollups", "task_id uuid, start timestamptz NOT NULL, status text NOT NULL, trigger text NOT NULL", TOKENS)
        + """
            CONSTRAINT uq_task_run_rollups_key UNIQUE NULLS NOT DISTINCT (period, task_id, start, status, trigger)
        );
        CREATE INDEX ix_task_run_rollups_start ON task_run_rollups (start);"""
        + _counts("run_rollups", "shard smallint NOT NULL, start timestamptz NOT NULL, status text NOT NULL, trigger text NOT NULL", TOKENS)
        + """
            CONSTRAINT pk_run_rollups PRIMARY KEY (period, start, shard, status, trigger)
        );"""
        + _counts("task_rollups", "task_id uuid NOT NULL, start timestamptz NOT NULL", "failed bigint NOT NULL DEFAULT 0,")
        + """
            CONSTRAINT pk_task_rollups PRIMARY KEY (period, start, task_id)
        );
        CREATE INDEX ix_task_rollups_task_id ON task_rollups (task_id);"""
        + _latest("task_run_error_rollups", "task_id uuid, start timestamptz NOT NULL")
        + """
            CONSTRAINT uq_task_run_error_rollups_key UNIQUE NULLS NOT DISTINCT (period, task_id, start, error_type)
        );
        CREATE INDEX ix_task_run_error_rollups_start ON task_run_error_rollups (start);"""
        + _latest("run_error_rollups", "shard smallint NOT NULL, start timestamptz NOT NULL")
        + """
            CONSTRAINT pk_run_error_rollups PRIMARY KEY (period, start, shard, error_type)
        );
        """
    )
    for statement in backfill_sql():
        op.execute(statement)


def downgrade() -> None:
    op.execute(
        "DROP TABLE run_error_rollups, task_run_error_rollups, task_rollups, run_rollups, task_run_rollups"
    )
