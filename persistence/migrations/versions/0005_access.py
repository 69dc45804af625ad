"""Access control: API keys with an expiry and their creator, and the audit log.

Revision ID: 0005_access
Revises: 0004_run_listing
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0005_access"
down_revision = "0004_run_listing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE api_keys
            ADD COLUMN expires_at timestamptz,
            ADD COLUMN created_by text,
            ADD COLUMN last_used_at timestamptz;

        CREATE TABLE audit_log (
            id uuid PRIMARY KEY,
            at timestamptz NOT NULL DEFAULT now(),
            actor text,
            actor_key_id uuid,
            action text NOT NULL,
            target_type text NOT NULL,
            target_id text,
            source_address text,
            outcome text NOT NULL DEFAULT 'ok',
            details jsonb
        );
        CREATE INDEX ix_audit_log_at ON audit_log (at DESC, id DESC);
        CREATE INDEX ix_audit_log_actor ON audit_log (actor, at DESC, id DESC);
        CREATE INDEX ix_audit_log_action ON audit_log (action, at DESC, id DESC);
        CREATE INDEX ix_audit_log_target ON audit_log (target_type, target_id, at DESC, id DESC);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE audit_log;
        ALTER TABLE api_keys DROP COLUMN expires_at, DROP COLUMN created_by, DROP COLUMN last_used_at;
        """
    )
