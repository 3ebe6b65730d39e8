"""Decisions record the challenger model that scored in shadow, and its score.

Revision ID: 20261130_0300
Revises: 20261130_0200
Created: 2026-11-30

Both columns are null when no challenger was announced (and for every decision written
before). The challenger never decides: its score sits beside ``risk_score`` so the two
models can be compared on the same traffic, e.g. against the labels.
"""

from __future__ import annotations

from alembic import op

revision = "20261130_0300"
down_revision: str | None = "20261130_0200"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE decisions
            ADD COLUMN challenger_model_version text,
            ADD COLUMN challenger_score double precision
                CHECK (challenger_score BETWEEN 0 AND 1),
            ADD CONSTRAINT decisions_challenger_score_has_version
                CHECK (challenger_score IS NULL OR challenger_model_version IS NOT NULL);
        COMMENT ON COLUMN decisions.challenger_model_version IS
            'The challenger that scored in shadow (decision.v3.avsc); null when none.';
        COMMENT ON COLUMN decisions.challenger_score IS
            'The challenger''s score, recorded for comparison only: it never decides.';
        """
    )


def downgrade() -> None:
    raise NotImplementedError("SentinelStream's schema is forward-only: write a new migration")
