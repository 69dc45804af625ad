"""Event rules may start a workflow: ``target_workflow_id`` beside ``target_task_id``, exactly
one of them set.

Revision ID: 0014_rule_workflow_targets
Revises: 0013_events
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0014_rule_workflow_targets"
down_revision = "0013_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE event_rules ALTER COLUMN target_task_id DROP NOT NULL;
        ALTER TABLE event_rules
            ADD COLUMN target_workflow_id uuid REFERENCES workflows (id) ON DELETE CASCADE;
        ALTER TABLE event_rules ADD CONSTRAINT ck_event_rules_one_target
            CHECK ((target_task_id IS NULL) <> (target_workflow_id IS NULL));
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DELETE FROM event_rules WHERE target_task_id IS NULL;
        ALTER TABLE event_rules DROP CONSTRAINT ck_event_rules_one_target;
        ALTER TABLE event_rules DROP COLUMN target_workflow_id;
        ALTER TABLE event_rules ALTER COLUMN target_task_id SET NOT NULL;
        """
    )
