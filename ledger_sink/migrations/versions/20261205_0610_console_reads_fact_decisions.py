"""The analyst console reads the star schema's decisions (issue 17, the Overview).

Revision ID: 20261205_0610
Revises: 20261205_0500
Created: 2026-12-05

The Overview's figures, chart, top rules and latest DECLINEs find their decisions through
``analytics.fact_decisions``' (date_key, time_key) index. 20261205_0300 gave
``sentinel_console`` USAGE on the ``analytics`` schema but SELECT only on the public
tables, so the console, run as its own role, was refused the Overview. It gets SELECT on
that one table: the dimensions are not read (the fact carries what the Overview shows).
"""

from __future__ import annotations

from alembic import op

revision = "20261205_0610"
down_revision: str | None = "20261205_0500"
branch_labels = None
depends_on = None

GROUP = "sentinel_console"


def upgrade() -> None:
    op.execute(f"GRANT SELECT ON TABLE analytics.fact_decisions TO {GROUP}")


def downgrade() -> None:
    raise NotImplementedError("SentinelStream's schema is forward-only: write a new migration")
