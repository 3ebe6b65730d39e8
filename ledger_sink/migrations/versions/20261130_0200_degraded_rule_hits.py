"""Rule hits may record a decline the circuit breaker degraded to review.

Revision ID: 20261130_0200
Revises: 20261130_0140
Created: 2026-11-30

The agents record such a hit as action ``DECLINE->REVIEW`` (what the rule asked for, and
what it was allowed to do). Rule versions keep the plain ``rule_action`` domain: only a
hit can be degraded, never a rule.
"""

from __future__ import annotations

from alembic import op

revision = "20261130_0200"
down_revision: str | None = "20261130_0140"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        r"""
        ALTER TABLE decision_rule_hits ALTER COLUMN action TYPE text;
        ALTER TABLE decision_rule_hits ADD CONSTRAINT decision_rule_hits_action CHECK (
            action IN ('APPROVE', 'REVIEW', 'DECLINE', 'DECLINE->REVIEW')
            OR action ~ '^SCORE[+-][0-9]+(\.[0-9]+)?$'
        );
        """
    )


def downgrade() -> None:
    raise NotImplementedError("SentinelStream's schema is forward-only: write a new migration")
