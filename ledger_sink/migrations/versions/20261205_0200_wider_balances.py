"""Balances widen from numeric(20, 4) to numeric(38, 4): 100 maximal credits overflowed them.

Revision ID: 20261205_0200
Revises: 20261205_0100
Created: 2026-12-05

One amount may have 14 integer digits (``AmountText``, ``schemas/validation.py``) and
``numeric(20, 4)`` holds 16, so about 100 approved credits of the largest amount overflowed
``balances.balance`` and ``ledger_entries.balance_after`` (SQLSTATE 22003, the decision
dead-lettered). ``numeric(38, 4)`` holds 34 integer digits: 10**20 maximal credits.

The scale stays 4, so every stored value reads back as before and the hash chain, which
encodes ``balance_after`` with exactly four decimals (``ledger_sink/hashchain.py``), still
verifies. Raising a numeric's precision at the same scale rewrites no row and fires no row
trigger, so the append-only triggers of ``ledger_entries`` are not involved; only the owner
(the migration role) may ALTER the table, and the runtime roles' column grants are untouched.
"""

from __future__ import annotations

from alembic import op

revision = "20261205_0200"
down_revision: str | None = "20261205_0100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE ledger_entries ALTER COLUMN balance_after TYPE numeric(38, 4);
        ALTER TABLE balances ALTER COLUMN balance TYPE numeric(38, 4);
        COMMENT ON COLUMN ledger_entries.balance_after IS
            'numeric(38, 4): 34 integer digits, 10**20 credits of the largest amount; the '
            'sink dead-letters an entry that would leave that range (balance_out_of_range).';
        COMMENT ON COLUMN balances.balance IS
            'numeric(38, 4), as ledger_entries.balance_after, whose last value it holds.';
        """
    )


def downgrade() -> None:
    raise NotImplementedError("SentinelStream's schema is forward-only: write a new migration")
