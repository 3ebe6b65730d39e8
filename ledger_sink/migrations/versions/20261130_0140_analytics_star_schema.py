"""The analysts' star schema (schema ``analytics``): one fact row per decision, six dimensions.

Revision ID: 20261130_0140
Revises: 20261130_0130
Created: 2026-11-30

Derived data, filled by the sink after the operational write; the operational tables stay in
third normal form. Date and time dimensions are keyed by the transaction's event time in UTC.
Dimension attributes that follow from the key (year, hour, is_weekend ...) are generated
columns, so the sink inserts only the key and a dimension can never contradict itself.
Dimensions are type 1 (the latest attributes overwrite); there is no foreign key to the
operational tables, so the schema can move to a warehouse unchanged.
"""

from __future__ import annotations

from alembic import op

revision = "20261130_0140"
down_revision: str | None = "20261130_0130"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE SCHEMA analytics;
        COMMENT ON SCHEMA analytics IS 'Star schema for analysts; derived from the ledger.';
        """
    )
    op.execute(
        """
        CREATE TABLE analytics.dim_date (
            date       date NOT NULL,
            date_key   integer GENERATED ALWAYS AS (
                           (extract(year FROM date) * 10000
                            + extract(month FROM date) * 100
                            + extract(day FROM date))::integer
                       ) STORED PRIMARY KEY,
            year       smallint GENERATED ALWAYS AS (extract(year FROM date)) STORED,
            month      smallint GENERATED ALWAYS AS (extract(month FROM date)) STORED,
            day        smallint GENERATED ALWAYS AS (extract(day FROM date)) STORED,
            -- ISO weekday: 1 = Monday ... 7 = Sunday.
            weekday    smallint GENERATED ALWAYS AS (extract(isodow FROM date)) STORED,
            is_weekend boolean GENERATED ALWAYS AS (extract(isodow FROM date) >= 6) STORED
        );
        CREATE TABLE analytics.dim_time (
            time_key smallint PRIMARY KEY CHECK (time_key BETWEEN 0 AND 1439),
            hour     smallint GENERATED ALWAYS AS (time_key / 60) STORED,
            minute   smallint GENERATED ALWAYS AS (time_key % 60) STORED,
            -- 00:00 to 05:59 UTC.
            is_night boolean GENERATED ALWAYS AS (time_key < 360) STORED
        );
        COMMENT ON COLUMN analytics.dim_time.time_key IS 'Minute of the day, 0 to 1439, UTC.';
        INSERT INTO analytics.dim_time (time_key) SELECT generate_series(0, 1439);
        """
    )
    op.execute(
        """
        CREATE TABLE analytics.dim_channel (
            channel_key smallint PRIMARY KEY,
            channel     text NOT NULL UNIQUE CHECK (channel IN ('POS', 'ECOM', 'ATM')),
            description text NOT NULL
        );
        INSERT INTO analytics.dim_channel (channel_key, channel, description) VALUES
            (1, 'POS', 'Card present, at a point of sale'),
            (2, 'ECOM', 'Card not present, online'),
            (3, 'ATM', 'Cash withdrawal at an ATM');
        CREATE TABLE analytics.dim_account (
            account_key  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            account_id   external_id NOT NULL UNIQUE,
            home_country country_code
        );
        CREATE TABLE analytics.dim_merchant (
            merchant_key  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            merchant_id   external_id NOT NULL UNIQUE,
            merchant_name text,
            mcc           text CHECK (mcc ~ '^[0-9]{4}$')
        );
        CREATE TABLE analytics.dim_location (
            location_key bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            country      country_code NOT NULL,
            city         text,
            CONSTRAINT dim_location_country_city UNIQUE NULLS NOT DISTINCT (country, city)
        );
        """
    )
    # decision_id and transaction_id are degenerate dimensions: the sink's idempotency key,
    # and how a label later finds the row whose is_fraud it sets.
    op.execute(
        """
        CREATE TABLE analytics.fact_decisions (
            decision_id       uuid PRIMARY KEY,
            transaction_id    external_id NOT NULL UNIQUE,
            account_key       bigint NOT NULL REFERENCES analytics.dim_account,
            merchant_key      bigint NOT NULL REFERENCES analytics.dim_merchant,
            date_key          integer NOT NULL REFERENCES analytics.dim_date,
            time_key          smallint NOT NULL REFERENCES analytics.dim_time,
            location_key      bigint NOT NULL REFERENCES analytics.dim_location,
            channel_key       smallint NOT NULL REFERENCES analytics.dim_channel,
            tx_type           text NOT NULL CHECK (tx_type IN ('debit', 'credit', 'refund')),
            amount            numeric(18, 4) NOT NULL,
            currency          currency_code NOT NULL,
            risk_score        double precision NOT NULL,
            outcome           decision_outcome NOT NULL,
            -- decided_at - ingested_at; may be negative when the hosts' clocks disagree.
            latency_ms        integer NOT NULL,
            rules_fired_count smallint NOT NULL CHECK (rules_fired_count >= 0),
            shadow_rules_fired_count smallint NOT NULL DEFAULT 0
                                     CHECK (shadow_rules_fired_count >= 0),
            -- NULL until a label arrives for the transaction.
            is_fraud          boolean
        );
        CREATE INDEX fact_decisions_date_time ON analytics.fact_decisions (date_key, time_key);
        CREATE INDEX fact_decisions_account ON analytics.fact_decisions (account_key);
        CREATE INDEX fact_decisions_merchant ON analytics.fact_decisions (merchant_key);
        CREATE INDEX fact_decisions_location ON analytics.fact_decisions (location_key);
        COMMENT ON TABLE analytics.fact_decisions IS
            'One row per decision; grain = decision. Filled by the ledger sink.';
        """
    )


def downgrade() -> None:
    raise NotImplementedError("SentinelStream's schema is forward-only: write a new migration")
