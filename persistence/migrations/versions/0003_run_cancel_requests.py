"""Cancel requests on runs: the watcher forces a cancel that the workflow does not act on.

Revision ID: 0003_run_cancel_requests
Revises: 0002_questions
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0003_run_cancel_requests"
down_revision = "0002_questions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE task_runs ADD COLUMN cancel_requested_at timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE task_runs DROP COLUMN cancel_requested_at")
