"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Created: ${create_date.date()}
"""

from __future__ import annotations

from alembic import op

revision = "${up_revision}"
down_revision: str | None = ${'"%s"' % down_revision if down_revision else "None"}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    # Raw, readable DDL; one op.execute per statement group. No ":name" in the SQL (SQLAlchemy
    # would read it as a bind parameter); a migration never imports project code, so it
    # means the same thing forever.
    op.execute(
        """
        """
    )


def downgrade() -> None:
    raise NotImplementedError("SentinelStream's schema is forward-only: write a new migration")
