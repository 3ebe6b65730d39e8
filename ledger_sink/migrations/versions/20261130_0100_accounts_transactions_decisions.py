"""Accounts, transactions and decisions: the operational core, in third normal form.

Revision ID: 20261130_0100
Revises: (none)
Created: 2026-11-30

Ids that gateways send (transaction_id, account_id, merchant_id) are opaque text: the contract
says "UUID text" but the Kafka-producer path is not validated as UUIDs, and a row the sink
cannot store would stall it. Ids SentinelStream mints itself (decision_id, UUIDv5) are uuid.
"""

from __future__ import annotations

from alembic import op

revision = "20261130_0100"
down_revision: str | None = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Shapes the contracts define, declared once and shared by every table that holds them.
    op.execute(
        r"""
        CREATE DOMAIN external_id AS text
            CONSTRAINT external_id_length CHECK (char_length(VALUE) BETWEEN 1 AND 256);
        CREATE DOMAIN currency_code AS char(3)
            CONSTRAINT currency_code_iso4217 CHECK (VALUE ~ '^[A-Z]{3}$');
        CREATE DOMAIN country_code AS char(2)
            CONSTRAINT country_code_iso3166 CHECK (VALUE ~ '^[A-Z]{2}$');
        CREATE DOMAIN decision_outcome AS text
            CONSTRAINT decision_outcome_values CHECK (VALUE IN ('APPROVE', 'REVIEW', 'DECLINE'));
        -- APPROVE, REVIEW, DECLINE, or a score adjustment such as SCORE+0.2 (rule.avsc).
        CREATE DOMAIN rule_action AS text
            CONSTRAINT rule_action_values CHECK (
                VALUE IN ('APPROVE', 'REVIEW', 'DECLINE')
                OR VALUE ~ '^SCORE[+-][0-9]+(\.[0-9]+)?$'
            );
        """
    )
    # The same test as schemas/pan.py (13-19 digits, spaces and dashes ignored, Luhn valid),
    # so that a card number can never be stored as a token even if every check upstream failed.
    op.execute(
        """
        CREATE FUNCTION looks_like_pan(value text) RETURNS boolean
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT CASE WHEN d ~ '^[0-9]{13,19}$' THEN (
                SELECT sum(CASE
                               WHEN p % 2 = 1 THEN x
                               WHEN x * 2 > 9 THEN x * 2 - 9
                               ELSE x * 2
                           END) % 10 = 0
                  FROM (SELECT p, substr(reverse(d), p, 1)::int AS x
                          FROM generate_series(1, length(d)) AS p) AS digits
            ) ELSE false END
              FROM (SELECT translate(value, ' -', '') AS d) AS stripped
        $$;
        COMMENT ON FUNCTION looks_like_pan(text) IS
            'True for 13-19 digits (spaces, dashes ignored) passing Luhn, as schemas/pan.py';
        """
    )
    op.execute(
        """
        CREATE TABLE accounts (
            account_id   external_id PRIMARY KEY,
            home_country country_code,
            home_lat     double precision CHECK (home_lat BETWEEN -90 AND 90),
            home_lon     double precision CHECK (home_lon BETWEEN -180 AND 180),
            created_at   timestamptz NOT NULL DEFAULT now(),
            updated_at   timestamptz NOT NULL DEFAULT now()
        );
        COMMENT ON TABLE accounts IS
            'Card holder accounts. The sink upserts one before its first transaction; the '
            'home fields come from the accounts topic and stay NULL until a profile arrives.';
        """
    )
    # Every field of transaction.v2.avsc; "timestamp" is stored as event_ts. The extra
    # (transaction_id, account_id) key lets decisions and ledger entries, which repeat
    # account_id for their own indexes, prove that they name the transaction's account.
    op.execute(
        """
        CREATE TABLE transactions (
            transaction_id  external_id PRIMARY KEY,
            account_id      external_id NOT NULL REFERENCES accounts,
            card_token      text NOT NULL
                            CHECK (card_token <> '' AND NOT looks_like_pan(card_token)),
            amount          numeric(18, 4) NOT NULL CHECK (amount >= 0),
            currency        currency_code NOT NULL,
            merchant_id     external_id NOT NULL,
            merchant_name   text,
            mcc             text CHECK (mcc ~ '^[0-9]{4}$'),
            country         country_code NOT NULL,
            city            text,
            lat             double precision CHECK (lat BETWEEN -90 AND 90),
            lon             double precision CHECK (lon BETWEEN -180 AND 180),
            channel         text NOT NULL CHECK (channel IN ('POS', 'ECOM', 'ATM')),
            device_id       text,
            ip              text,
            event_ts        timestamptz NOT NULL,
            type            text NOT NULL CHECK (type IN ('debit', 'credit', 'refund')),
            ingested_at     timestamptz,
            idempotency_key text,
            recorded_at     timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT transactions_id_account UNIQUE (transaction_id, account_id)
        );
        -- Cursor-paginated account history: WHERE account_id = $1 AND (event_ts,
        -- transaction_id) < ($2, $3) ORDER BY event_ts DESC, transaction_id DESC.
        CREATE INDEX transactions_account_history
            ON transactions (account_id, event_ts DESC, transaction_id DESC);
        COMMENT ON TABLE transactions IS
            'One row per transaction (transaction.v2.avsc). Written by the sink from the '
            'decision''s embedded copy, so it also holds transactions produced straight to Kafka. '
            'amount >= 0 admits zero-amount account verifications; ip is text, kept as sent.';
        """
    )
    op.execute(
        """
        CREATE TABLE decisions (
            decision_id    uuid PRIMARY KEY,
            transaction_id external_id NOT NULL,
            account_id     external_id NOT NULL,
            outcome        decision_outcome NOT NULL,
            risk_score     double precision NOT NULL CHECK (risk_score BETWEEN 0 AND 1),
            model_version  text,
            features       jsonb NOT NULL DEFAULT '{}'
                           CHECK (jsonb_typeof(features) = 'object'),
            reason_codes   jsonb NOT NULL DEFAULT '[]'
                           CHECK (jsonb_typeof(reason_codes) = 'array'),
            ingested_at    timestamptz NOT NULL,
            decided_at     timestamptz NOT NULL,
            recorded_at    timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT decisions_one_per_transaction UNIQUE (transaction_id),
            FOREIGN KEY (transaction_id, account_id)
                REFERENCES transactions (transaction_id, account_id)
        );
        CREATE INDEX decisions_account_recent ON decisions (account_id, decided_at DESC);
        COMMENT ON TABLE decisions IS
            'Exactly one decision per transaction (decision.v2.avsc); decision_id is '
            'UUIDv5(transaction_id). Rules fired are rows of decision_rule_hits.';
        """
    )
    # rule_id is the agent's wire value and has no foreign key to rules: a hit is a fact about
    # what ran, and replays or other environments may run rules this database never saw.
    op.execute(
        """
        CREATE TABLE decision_rule_hits (
            decision_id  uuid NOT NULL REFERENCES decisions,
            rule_id      text NOT NULL,
            rule_version integer NOT NULL CHECK (rule_version >= 1),
            action       rule_action NOT NULL,
            shadow       boolean NOT NULL,
            PRIMARY KEY (decision_id, rule_id, shadow)
        );
        CREATE INDEX decision_rule_hits_rule ON decision_rule_hits (rule_id, rule_version);
        COMMENT ON TABLE decision_rule_hits IS
            'The rules (shadow = false) and shadow rules (shadow = true) that fired for a '
            'decision, at the version that was live.';
        """
    )


def downgrade() -> None:
    raise NotImplementedError("SentinelStream's schema is forward-only: write a new migration")
