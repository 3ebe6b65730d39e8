"""API keys, webhook subscriptions and fraud labels: the tables the API and the sink share.

Revision ID: 20261130_0130
Revises: 20261130_0120
Created: 2026-11-30

Idempotency keys live in Redis (24 h), not here.
"""

from __future__ import annotations

from alembic import op

revision = "20261130_0130"
down_revision: str | None = "20261130_0120"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # An API key is a high-entropy random token, so a slow password hash buys nothing; the
    # HMAC pepper lives outside the database, so a copy of this table alone cannot confirm a
    # guessed key. key_prefix (the key's first characters, e.g. "sk_" and 8 more) is shown in
    # listings so people can tell their keys apart; it is far too short to help a guesser.
    op.execute(
        """
        CREATE TABLE api_keys (
            key_id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            name                  text NOT NULL CHECK (btrim(name) <> ''),
            key_prefix            text NOT NULL CHECK (char_length(key_prefix) BETWEEN 8 AND 16),
            key_hash              bytea NOT NULL CHECK (octet_length(key_hash) >= 32),
            scopes                text[] NOT NULL CONSTRAINT api_keys_scopes_known CHECK (
                                      cardinality(scopes) >= 1
                                      AND scopes <@ ARRAY['ingest', 'read', 'admin']
                                  ),
            rate_limit_per_second integer CHECK (rate_limit_per_second > 0),
            burst                 integer CHECK (burst > 0),
            created_at            timestamptz NOT NULL DEFAULT now(),
            revoked_at            timestamptz CHECK (revoked_at >= created_at),
            last_used_at          timestamptz,
            CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
        );
        COMMENT ON COLUMN api_keys.key_hash IS
            'HMAC-SHA-256 of the whole key under a server-side pepper (never the key itself).';
        COMMENT ON COLUMN api_keys.rate_limit_per_second IS
            'Sustained rate for this key; NULL means the API default (likewise burst).';
        """
    )
    # The secret signs deliveries (HMAC-SHA256), so it must be readable: it is stored as is.
    op.execute(
        r"""
        CREATE TABLE webhook_subscriptions (
            subscription_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            url             text NOT NULL CHECK (url ~ '^https?://\S+$'),
            secret          text NOT NULL CHECK (char_length(secret) >= 16),
            event_types     text[] NOT NULL CHECK (cardinality(event_types) >= 1),
            active          boolean NOT NULL DEFAULT true,
            created_at      timestamptz NOT NULL DEFAULT now()
        );
        """
    )
    # No foreign key to transactions: chargebacks arrive for transactions from before this
    # ledger, and the simulator labels transactions that may never be decided here.
    op.execute(
        """
        CREATE TABLE labels (
            transaction_id external_id PRIMARY KEY,
            account_id     external_id NOT NULL,
            merchant_id    external_id NOT NULL,
            is_fraud       boolean NOT NULL,
            scenario       text,
            labelled_at    timestamptz NOT NULL,
            transaction_ts timestamptz NOT NULL
        );
        -- Point-in-time training joins read labels by the transaction's event time.
        CREATE INDEX labels_transaction_ts ON labels (transaction_ts);
        COMMENT ON TABLE labels IS
            'Fraud confirmations, chargebacks and confirmed-genuine verdicts (label.avsc); '
            'the latest verdict per transaction.';
        """
    )


def downgrade() -> None:
    raise NotImplementedError("SentinelStream's schema is forward-only: write a new migration")
