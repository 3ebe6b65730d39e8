"""The append-only, hash-chained ledger and the balances it moves.

Revision ID: 20261130_0110
Revises: 20261130_0100
Created: 2026-11-30

Immutability is the database's job, not the sink's: row triggers refuse UPDATE and DELETE and
a statement trigger refuses TRUNCATE, for every role, with SQLSTATE 42501. The hashes are
computed in Python (ledger_sink/hashchain.py); the database checks on insert that each entry
extends its account's chain (seq without gaps, prev_hash equal to the previous entry_hash), so
a buggy writer cannot leave a broken link behind in a table where nothing can be repaired.
"""

from __future__ import annotations

from alembic import op

revision = "20261130_0110"
down_revision: str | None = "20261130_0100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION refuse_mutation() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% on %.% is refused: its rows are append-only',
                TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'History is never changed; record a new row that corrects it.';
        END;
        $$;
        COMMENT ON FUNCTION refuse_mutation() IS
            'Trigger function of append-only tables; raises SQLSTATE 42501.';
        """
    )
    op.execute(
        """
        CREATE TABLE ledger_entries (
            entry_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            account_id     external_id NOT NULL,
            seq            bigint NOT NULL CHECK (seq >= 1),
            transaction_id external_id NOT NULL,
            decision_id    uuid NOT NULL REFERENCES decisions,
            outcome        decision_outcome NOT NULL,
            amount         numeric(18, 4) NOT NULL CHECK (amount >= 0),
            currency       currency_code NOT NULL,
            direction      text NOT NULL CHECK (direction IN ('debit', 'credit')),
            balance_after  numeric(20, 4) NOT NULL,
            created_at     timestamptz NOT NULL,
            hash_version   smallint NOT NULL DEFAULT 1 CHECK (hash_version >= 1),
            prev_hash      bytea CHECK (octet_length(prev_hash) = 32),
            entry_hash     bytea NOT NULL CHECK (octet_length(entry_hash) = 32),
            CONSTRAINT ledger_entries_one_per_transaction UNIQUE (transaction_id),
            CONSTRAINT ledger_entries_one_per_decision UNIQUE (decision_id),
            CONSTRAINT ledger_entries_account_seq UNIQUE (account_id, seq),
            CONSTRAINT ledger_entries_genesis CHECK ((seq = 1) = (prev_hash IS NULL)),
            FOREIGN KEY (transaction_id, account_id)
                REFERENCES transactions (transaction_id, account_id)
        );
        COMMENT ON TABLE ledger_entries IS
            'Append-only, one entry per decided transaction, hash-chained per account. '
            'entry_hash = SHA-256(prev_hash or 32 zero bytes || canonical bytes), computed '
            'by ledger_sink/hashchain.py; declines are recorded with the balance unchanged.';
        COMMENT ON COLUMN ledger_entries.created_at IS
            'Hashed: set by the writer, never defaulted by the database.';
        COMMENT ON COLUMN ledger_entries.hash_version IS
            'Which canonical encoding of ledger_sink/hashchain.py the hash uses.';
        """
    )
    # VOLATILE (plpgsql's default) so that a multi-row INSERT or COPY sees the rows it has
    # already inserted; search_path is pinned so the lookup cannot resolve to another table.
    op.execute(
        """
        CREATE FUNCTION ledger_entries_check_link() RETURNS trigger
        LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
        DECLARE
            previous_hash bytea;
        BEGIN
            IF NEW.seq = 1 THEN
                RETURN NEW;  -- ledger_entries_genesis requires prev_hash IS NULL
            END IF;
            SELECT entry_hash INTO previous_hash
              FROM ledger_entries
             WHERE account_id = NEW.account_id AND seq = NEW.seq - 1;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'ledger entry % of account % has no entry % before it',
                    NEW.seq, NEW.account_id, NEW.seq - 1
                    USING ERRCODE = 'integrity_constraint_violation',
                          HINT = 'Append an account''s entries in seq order from 1, no gaps.';
            END IF;
            IF NEW.prev_hash IS DISTINCT FROM previous_hash THEN
                RAISE EXCEPTION 'ledger entry % of account % does not link to entry %',
                    NEW.seq, NEW.account_id, NEW.seq - 1
                    USING ERRCODE = 'integrity_constraint_violation',
                          HINT = 'prev_hash must be the previous entry''s entry_hash.';
            END IF;
            RETURN NEW;
        END;
        $$;
        CREATE TRIGGER ledger_entries_link
            BEFORE INSERT ON ledger_entries
            FOR EACH ROW EXECUTE FUNCTION ledger_entries_check_link();
        CREATE TRIGGER ledger_entries_append_only
            BEFORE UPDATE OR DELETE ON ledger_entries
            FOR EACH ROW EXECUTE FUNCTION refuse_mutation();
        CREATE TRIGGER ledger_entries_no_truncate
            BEFORE TRUNCATE ON ledger_entries
            FOR EACH STATEMENT EXECUTE FUNCTION refuse_mutation();
        """
    )
    # The writer locks an account's balance row (SELECT ... FOR UPDATE) to serialise appends
    # to its chain; last_entry_id gives it the previous seq and hash in one lookup, and gives
    # verification an anchor for the chain's tail.
    op.execute(
        """
        CREATE TABLE balances (
            account_id    external_id PRIMARY KEY REFERENCES accounts,
            balance       numeric(20, 4) NOT NULL DEFAULT 0,
            currency      currency_code NOT NULL,
            updated_at    timestamptz NOT NULL DEFAULT now(),
            last_entry_id bigint REFERENCES ledger_entries (entry_id)
        );
        COMMENT ON TABLE balances IS
            'Current balance per account, updated in the same transaction as the ledger '
            'insert: approved debits reduce it; credits and refunds raise it.';
        """
    )


def downgrade() -> None:
    raise NotImplementedError("SentinelStream's schema is forward-only: write a new migration")
