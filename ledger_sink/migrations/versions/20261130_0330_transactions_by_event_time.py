"""Transactions are read by event time: an index for the hourly merchant-risk job.

Revision ID: 20261130_0330
Revises: 20261130_0300
Created: 2026-11-30

`sentinel merchant-risk run` counts, per merchant and hour, the transactions of a 30-day
window ending a week ago. Without an index on ``event_ts`` that is a scan of the whole
table every hour; with ``merchant_id`` and ``transaction_id`` included the window is read
from the index alone (the table is insert-only, so the visibility map stays current).
"""

from __future__ import annotations

from alembic import op

revision = "20261130_0330"
down_revision: str | None = "20261130_0300"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE INDEX transactions_event_ts
            ON transactions (event_ts) INCLUDE (merchant_id, transaction_id);
        """
    )


def downgrade() -> None:
    raise NotImplementedError("SentinelStream's schema is forward-only: write a new migration")
