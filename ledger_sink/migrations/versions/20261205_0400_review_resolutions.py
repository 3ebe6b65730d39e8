"""Review resolutions, and the ledger entry an analyst's approval appends.

Issue 17; docs/reviews.md.

Revision ID: 20261205_0400
Revises: 20261205_0300
Created: 2026-12-05

- ``review_resolutions``: one row per resolved REVIEW decision, written by the reviews sink
  from the ``reviews`` topic. The unique transaction id is what makes a case resolvable once:
  a second analyst's resolution conflicts and is refused. Append-only (``refuse_mutation``).
- ``ledger_entries`` gains ``kind``: ``decision`` (the one entry every decided transaction
  gets, as before) or ``resolution`` (the entry an approved review appends: it moves the
  money the REVIEW decision's zero entry held back), with the ``resolution_id`` it records.
  A transaction therefore has at most one entry of each kind; the one-per-transaction and
  one-per-decision constraints become one-per-(transaction, kind) and (decision, kind).
  Resolution entries hash with canonical encoding 2 (``ledger_sink/hashchain.py``), which
  adds the kind and resolution id; decision entries keep encoding 1, so every stored hash
  still verifies.
- ``decisions_awaiting_review``: a partial index on the REVIEW decisions only (a small share
  of the table), oldest first, for the console's queue.
"""

from __future__ import annotations

from alembic import op

revision = "20261205_0400"
down_revision: str | None = "20261205_0300"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE review_resolutions (
            resolution_id   uuid PRIMARY KEY,
            transaction_id  external_id NOT NULL,
            account_id      external_id NOT NULL,
            decision_id     uuid NOT NULL REFERENCES decisions,
            verdict         decision_outcome NOT NULL CHECK (verdict IN ('APPROVE', 'DECLINE')),
            confirmed_fraud boolean NOT NULL,
            note            text NOT NULL CHECK (length(note) <= 2000),
            analyst         text NOT NULL,
            resolved_at     timestamptz NOT NULL,
            recorded_at     timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT review_resolutions_one_per_transaction UNIQUE (transaction_id),
            CONSTRAINT review_resolutions_fraud_is_declined
                CHECK (NOT confirmed_fraud OR verdict = 'DECLINE'),
            FOREIGN KEY (transaction_id, account_id)
                REFERENCES transactions (transaction_id, account_id)
        );
        COMMENT ON TABLE review_resolutions IS
            'An analyst''s verdict on a REVIEW decision (reviews topic), one per transaction, '
            'append-only. An APPROVE appends the resolution ledger entry that moves the money.';
        CREATE TRIGGER review_resolutions_append_only
            BEFORE UPDATE OR DELETE ON review_resolutions
            FOR EACH ROW EXECUTE FUNCTION refuse_mutation();
        CREATE TRIGGER review_resolutions_no_truncate
            BEFORE TRUNCATE ON review_resolutions
            FOR EACH STATEMENT EXECUTE FUNCTION refuse_mutation();

        ALTER TABLE ledger_entries
            ADD COLUMN kind text NOT NULL DEFAULT 'decision'
                CHECK (kind IN ('decision', 'resolution')),
            ADD COLUMN resolution_id uuid REFERENCES review_resolutions,
            ADD CONSTRAINT ledger_entries_resolution_named
                CHECK ((kind = 'resolution') = (resolution_id IS NOT NULL)),
            ADD CONSTRAINT ledger_entries_resolution_encoding
                CHECK (kind = 'decision' OR hash_version >= 2);
        ALTER TABLE ledger_entries
            DROP CONSTRAINT ledger_entries_one_per_transaction,
            DROP CONSTRAINT ledger_entries_one_per_decision,
            ADD CONSTRAINT ledger_entries_one_per_transaction UNIQUE (transaction_id, kind),
            ADD CONSTRAINT ledger_entries_one_per_decision UNIQUE (decision_id, kind);
        COMMENT ON TABLE ledger_entries IS
            'Append-only, hash-chained per account: one entry per decided transaction (kind '
            'decision; declines and reviews with the balance unchanged) and one more when an '
            'analyst approves a review (kind resolution, moving the money). entry_hash = '
            'SHA-256(prev_hash or 32 zero bytes || canonical bytes), computed by '
            'ledger_sink/hashchain.py.';

        CREATE INDEX decisions_awaiting_review ON decisions (decided_at)
            WHERE outcome = 'REVIEW';

        GRANT SELECT, INSERT ON TABLE review_resolutions TO sentinel_sink;
        GRANT SELECT ON TABLE review_resolutions
            TO sentinel_api, sentinel_reader, sentinel_console;
        """
    )


def downgrade() -> None:
    raise NotImplementedError("SentinelStream's schema is forward-only: write a new migration")
