"""Task testing: a task may refuse a new version whose data samples fail (`test_on_save`).

Task versions do not carry the flag: it governs saving, not how a version runs.

Revision ID: 0008_task_testing
Revises: 0007_workflows
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0008_task_testing"
down_revision = "0007_workflows"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE tasks ADD COLUMN test_on_save boolean NOT NULL DEFAULT false")


def downgrade() -> None:
    op.execute("ALTER TABLE tasks DROP COLUMN test_on_save")
