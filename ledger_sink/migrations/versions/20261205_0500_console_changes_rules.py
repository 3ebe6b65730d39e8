"""The analyst console saves rules as the API's admin routes do (issue 17, ADR 0006).

Revision ID: 20261205_0500
Revises: 20261205_0400
Created: 2026-12-05

The console's Rules pages create rules and their new versions through
``reference_store.rules_repo``, the API's own code path: a row of ``rules``, one of
``rule_versions`` and one of ``rule_audit`` in one transaction. So ``sentinel_console``
gets what ``sentinel_api`` has on those tables: INSERT, and UPDATE on ``rules`` only for
the ``SELECT ... FOR UPDATE`` that serialises two edits of one rule. Versions and their
audit stay append-only (their triggers refuse UPDATE, DELETE and TRUNCATE to everyone).
"""

from __future__ import annotations

from alembic import op

revision = "20261205_0500"
down_revision: str | None = "20261205_0400"
branch_labels = None
depends_on = None

GROUP = "sentinel_console"


def upgrade() -> None:
    op.execute(
        f"""
        GRANT INSERT, UPDATE ON TABLE rules TO {GROUP};
        GRANT INSERT ON TABLE rule_versions, rule_audit TO {GROUP};
        """
    )


def downgrade() -> None:
    raise NotImplementedError("SentinelStream's schema is forward-only: write a new migration")
