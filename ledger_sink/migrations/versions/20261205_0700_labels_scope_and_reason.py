"""The ``labels`` API key scope, and the reason a label's source gives.

Revision ID: 20261205_0700
Revises: 20261205_0630
Created: 2026-12-05

- ``api_keys.scopes`` may hold ``labels``: the scope of ``POST /v1/labels``, through which
  an issuer processor sends chargebacks and fraud confirmations. Its own scope, because a
  gateway that ingests transactions has no business declaring them fraudulent.
- ``labels.reason``: the source's reason code or note (``label.v2.avsc``, e.g. a card
  scheme's chargeback reason code), null for the labels that carry none (the simulator's,
  the analysts', any label v1). No length check here: the API bounds what it accepts, and
  a label the table refused would be dead-lettered, losing its verdict over a note.
- No grant changes: ``sentinel_api`` already reads ``transactions`` (the look-up of the
  labelled transaction) and ``sentinel_labels`` writes every column of ``labels``.
"""

from __future__ import annotations

from alembic import op

revision = "20261205_0700"
down_revision: str | None = "20261205_0630"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_known;
        ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_known CHECK (
            cardinality(scopes) >= 1
            AND scopes <@ ARRAY['ingest', 'read', 'admin', 'labels']
        );
        ALTER TABLE labels ADD COLUMN reason text;
        COMMENT ON COLUMN labels.reason IS
            'The source''s reason code or note (label v2), e.g. a chargeback reason code.';
        """
    )


def downgrade() -> None:
    raise NotImplementedError("SentinelStream's schema is forward-only: write a new migration")
