"""Why a pending run has not started yet (a run waiting for a concurrency slot).

Revision ID: 0006_run_waiting_reason
Revises: 0005_access
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0006_run_waiting_reason"
down_revision = "0005_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE task_runs ADD COLUMN waiting_reason text")


def downgrade() -> None:
    op.execute("ALTER TABLE task_runs DROP COLUMN waiting_reason")
