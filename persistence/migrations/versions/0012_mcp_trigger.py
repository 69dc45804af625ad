"""Runs started through the MCP server carry the trigger `mcp`.

Revision ID: 0012_mcp_trigger
Revises: 0011_webhooks
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0012_mcp_trigger"
down_revision = "0011_webhooks"
branch_labels = None
depends_on = None

WITH_MCP = "('api', 'adhoc', 'schedule', 'workflow_node', 'cli', 'ui', 'task', 'webhook', 'mcp')"
WITHOUT_MCP = "('api', 'adhoc', 'schedule', 'workflow_node', 'cli', 'ui', 'task', 'webhook')"


def _allow(triggers: str) -> None:
    for table in ("task_runs", "workflow_runs"):
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT ck_{table}_trigger")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT ck_{table}_trigger CHECK (trigger IN {triggers})")


def upgrade() -> None:
    _allow(WITH_MCP)


def downgrade() -> None:
    for table in ("task_runs", "workflow_runs"):
        op.execute(f"UPDATE {table} SET trigger = 'api' WHERE trigger = 'mcp'")
    _allow(WITHOUT_MCP)
