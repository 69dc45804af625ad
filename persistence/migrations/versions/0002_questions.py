"""Human-in-the-loop: questions asked by paused runs, and the audit of every answer.

Revision ID: 0002_questions
Revises: 0001_initial
Create Date: 2025-01-02
"""

from __future__ import annotations

from alembic import op

revision = "0002_questions"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE questions (
            id uuid NOT NULL,
            run_id uuid NOT NULL,
            run_created_at timestamptz NOT NULL,
            task_id uuid,
            tool text NOT NULL,
            line integer NOT NULL DEFAULT 0,
            "column" integer NOT NULL DEFAULT 0,
            question text NOT NULL,
            responses jsonb,
            form jsonb,
            assignees text[] NOT NULL DEFAULT '{}',
            timeout_seconds double precision,
            "default" jsonb,
            has_default boolean NOT NULL DEFAULT false,
            details jsonb,
            status text NOT NULL DEFAULT 'pending',
            created_at timestamptz NOT NULL,
            timeout_at timestamptz,
            answer jsonb,
            answered_by text,
            answered_at timestamptz,
            answer_source text,
            closed_at timestamptz,
            closed_reason text,
            notification jsonb,
            CONSTRAINT pk_questions PRIMARY KEY (id),
            CONSTRAINT ck_questions_status CHECK (status IN ('pending', 'answered', 'expired')),
            CONSTRAINT ck_questions_answered CHECK (status <> 'answered' OR answered_at IS NOT NULL)
        );
        CREATE INDEX ix_questions_created_at_id ON questions (created_at DESC, id DESC);
        CREATE INDEX ix_questions_status_created_at ON questions (status, created_at DESC);
        CREATE INDEX ix_questions_run_id ON questions (run_id);
        CREATE INDEX ix_questions_task_id_created_at ON questions (task_id, created_at DESC);
        CREATE INDEX ix_questions_assignees ON questions USING gin (assignees);

        CREATE TABLE answer_audit (
            id bigint GENERATED ALWAYS AS IDENTITY,
            question_id uuid NOT NULL,
            run_id uuid NOT NULL,
            answer jsonb,
            answered_by text,
            source text NOT NULL,
            client_address text,
            outcome text NOT NULL,
            reason text,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_answer_audit PRIMARY KEY (id),
            CONSTRAINT ck_answer_audit_outcome CHECK (outcome IN
                ('accepted', 'invalid', 'forbidden', 'conflict', 'undelivered'))
        );
        CREATE INDEX ix_answer_audit_question_id ON answer_audit (question_id);
        CREATE INDEX ix_answer_audit_run_id ON answer_audit (run_id);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE IF EXISTS answer_audit;
        DROP TABLE IF EXISTS questions;
        """
    )
