"""Workflow schedules: a workflow may carry a schedule document like a task, and a workflow run
a schedule fired records the fire's scheduled time.

Revision ID: 0010_workflow_schedules
Revises: 0009_run_rollups
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0010_workflow_schedules"
down_revision = "0009_run_rollups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE workflows ADD COLUMN schedule jsonb")
    op.execute("ALTER TABLE workflow_runs ADD COLUMN scheduled_time timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE workflow_runs DROP COLUMN scheduled_time")
    op.execute("ALTER TABLE workflows DROP COLUMN schedule")
