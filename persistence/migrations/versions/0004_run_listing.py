"""Run listing at scale: indexes that end in (created_at, id), for task + status and task + trigger
too, and span
partitions instead of the DEFAULT partitions (which kept the planner from an ordered Append).

Revision ID: 0004_run_listing
Revises: 0003_run_cancel_requests
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

from persistence.partitions import replace_default_partitions_sync, restore_default_partitions_sync

revision = "0004_run_listing"
down_revision = "0003_run_cancel_requests"
branch_labels = None
depends_on = None

TABLES = ("task_runs", "task_run_logs")


def upgrade() -> None:
    replace_default_partitions_sync(op.get_bind(), TABLES)
    # An index on the partitioned table is created on every partition, present and future.
    # IF NOT EXISTS: on a large table they may have been built beforehand, concurrently
    # (docs/performance.md).
    op.execute(
        """
        DROP INDEX IF EXISTS ix_task_runs_task_id_created_at;
        DROP INDEX IF EXISTS ix_task_runs_status_created_at;
        DROP INDEX IF EXISTS ix_task_runs_trigger_created_at;
        CREATE INDEX IF NOT EXISTS ix_task_runs_task_id_created_at_id ON task_runs (task_id, created_at DESC, id DESC);
        CREATE INDEX IF NOT EXISTS ix_task_runs_status_created_at_id ON task_runs (status, created_at DESC, id DESC);
        CREATE INDEX IF NOT EXISTS ix_task_runs_trigger_created_at_id ON task_runs (trigger, created_at DESC, id DESC);
        CREATE INDEX IF NOT EXISTS ix_task_runs_task_id_status_created_at_id
            ON task_runs (task_id, status, created_at DESC, id DESC);
        CREATE INDEX IF NOT EXISTS ix_task_runs_task_id_trigger_created_at_id
            ON task_runs (task_id, trigger, created_at DESC, id DESC);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX IF EXISTS ix_task_runs_task_id_trigger_created_at_id;
        DROP INDEX IF EXISTS ix_task_runs_task_id_status_created_at_id;
        DROP INDEX IF EXISTS ix_task_runs_trigger_created_at_id;
        DROP INDEX IF EXISTS ix_task_runs_status_created_at_id;
        DROP INDEX IF EXISTS ix_task_runs_task_id_created_at_id;
        CREATE INDEX IF NOT EXISTS ix_task_runs_task_id_created_at ON task_runs (task_id, created_at DESC);
        CREATE INDEX IF NOT EXISTS ix_task_runs_status_created_at ON task_runs (status, created_at DESC);
        CREATE INDEX IF NOT EXISTS ix_task_runs_trigger_created_at ON task_runs (trigger, created_at DESC);
        """
    )
    restore_default_partitions_sync(op.get_bind(), TABLES)
