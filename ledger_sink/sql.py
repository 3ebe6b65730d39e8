"""The sink's SQL: one statement per table, each fed whole columns as arrays through unnest.

Parameters are bound in binary (%b): text-format arrays cost a quoting regex per element,
which was a fifth of the sink's time. Every insert of data that may already be there says
ON CONFLICT DO NOTHING: a duplicate key is "already written" (a redelivered decision), never
an error. Rows that share a unique key are sorted by it before they are sent, so two sinks
meet their locks in the same order.
"""

from __future__ import annotations

ACCOUNTS = """
INSERT INTO accounts (account_id)
SELECT * FROM unnest(%b::text[])
ON CONFLICT DO NOTHING
"""

TRANSACTIONS = """
INSERT INTO transactions (
    transaction_id, account_id, card_token, amount, currency, merchant_id, merchant_name, mcc,
    country, city, lat, lon, channel, device_id, ip, event_ts, type, ingested_at,
    idempotency_key
)
SELECT * FROM unnest(
    %b::text[], %b::text[], %b::text[], %b::numeric[], %b::text[], %b::text[], %b::text[],
    %b::text[], %b::text[], %b::text[], %b::float8[], %b::float8[], %b::text[], %b::text[],
    %b::text[], %b::timestamptz[], %b::text[], %b::timestamptz[], %b::text[]
)
ON CONFLICT DO NOTHING
"""
TRANSACTIONS_WIDTH = 19

# RETURNING names exactly the decisions this batch added: the others were already written.
DECISIONS = """
INSERT INTO decisions (
    decision_id, transaction_id, account_id, outcome, risk_score, model_version, features,
    reason_codes, ingested_at, decided_at, challenger_model_version, challenger_score
)
SELECT d, t, a, o, r, m, f::jsonb, rc::jsonb, i, dd, cm, cs
FROM unnest(
    %b::uuid[], %b::text[], %b::text[], %b::text[], %b::float8[], %b::text[], %b::text[],
    %b::text[], %b::timestamptz[], %b::timestamptz[], %b::text[], %b::float8[]
) AS v(d, t, a, o, r, m, f, rc, i, dd, cm, cs)
ON CONFLICT DO NOTHING
RETURNING transaction_id
"""
DECISIONS_WIDTH = 12

# The booked transactions of ids a batch repeats, in ``schemas.fingerprint.CANONICAL_FIELDS``
# order: a repeat is a redelivery only when its content hash matches (``conflicts``).
STORED_TRANSACTIONS = """
SELECT transaction_id, account_id, card_token, amount, currency, merchant_id, merchant_name,
       mcc, country, city, lat, lon, channel, device_id, ip, event_ts, type
FROM transactions
WHERE transaction_id = ANY(%b::text[])
"""

RULE_HITS = """
INSERT INTO decision_rule_hits (decision_id, rule_id, rule_version, action, shadow)
SELECT * FROM unnest(%b::uuid[], %b::text[], %b::int[], %b::text[], %b::bool[])
ON CONFLICT DO NOTHING
"""
RULE_HITS_WIDTH = 5

# A new account's balance row takes the currency of its first decided transaction.
SEED_BALANCES = """
INSERT INTO balances (account_id, currency)
SELECT * FROM unnest(%b::text[], %b::text[])
ON CONFLICT DO NOTHING
"""

# The chain of an account is extended only by the holder of its balance row's lock, taken
# in account order. The head is read by the NEXT statement: in READ COMMITTED a statement's
# snapshot predates any wait for a lock, so this one could see a chain that has since grown.
LOCK_BALANCES = """
SELECT account_id FROM balances
WHERE account_id = ANY(%b::text[])
ORDER BY account_id
FOR UPDATE
"""

CHAIN_HEADS = """
SELECT b.account_id, b.currency, b.balance, coalesce(e.seq, 0), e.entry_hash
FROM balances b LEFT JOIN ledger_entries e ON e.entry_id = b.last_entry_id
WHERE b.account_id = ANY(%b::text[])
"""

LEDGER_ENTRIES = """
INSERT INTO ledger_entries (
    account_id, seq, transaction_id, decision_id, outcome, amount, currency, direction,
    balance_after, created_at, hash_version, prev_hash, entry_hash, kind, resolution_id
)
SELECT * FROM unnest(
    %b::text[], %b::bigint[], %b::text[], %b::uuid[], %b::text[], %b::numeric[], %b::text[],
    %b::text[], %b::numeric[], %b::timestamptz[], %b::smallint[], %b::bytea[], %b::bytea[],
    %b::text[], %b::uuid[]
)
RETURNING entry_id, account_id, seq
"""
LEDGER_ENTRIES_WIDTH = 15

UPDATE_BALANCES = """
UPDATE balances AS b
SET balance = v.balance, last_entry_id = v.entry_id, updated_at = now()
FROM unnest(%b::text[], %b::numeric[], %b::bigint[]) AS v(account_id, balance, entry_id)
WHERE b.account_id = v.account_id
"""

DIM_ACCOUNTS = """
INSERT INTO analytics.dim_account (account_id)
SELECT * FROM unnest(%b::text[])
ON CONFLICT DO NOTHING
"""

# Type 1: the latest attributes overwrite, but a missing one does not erase a known one.
DIM_MERCHANTS = """
INSERT INTO analytics.dim_merchant AS m (merchant_id, merchant_name, mcc)
SELECT * FROM unnest(%b::text[], %b::text[], %b::text[])
ON CONFLICT (merchant_id) DO UPDATE
SET merchant_name = coalesce(excluded.merchant_name, m.merchant_name),
    mcc = coalesce(excluded.mcc, m.mcc)
WHERE (m.merchant_name, m.mcc) IS DISTINCT FROM
      (coalesce(excluded.merchant_name, m.merchant_name), coalesce(excluded.mcc, m.mcc))
"""

DIM_LOCATIONS = """
INSERT INTO analytics.dim_location (country, city)
SELECT * FROM unnest(%b::text[], %b::text[])
ON CONFLICT DO NOTHING
"""

DIM_DATES = """
INSERT INTO analytics.dim_date (date)
SELECT * FROM unnest(%b::date[])
ON CONFLICT DO NOTHING
"""

# Surrogate keys are looked up in the same statement, so the dimensions cost no extra trip.
FACTS = """
INSERT INTO analytics.fact_decisions (
    decision_id, transaction_id, account_key, merchant_key, date_key, time_key, location_key,
    channel_key, tx_type, amount, currency, risk_score, outcome, latency_ms, rules_fired_count,
    shadow_rules_fired_count
)
SELECT v.decision_id, v.transaction_id, a.account_key, m.merchant_key, d.date_key, v.time_key,
       l.location_key, c.channel_key, v.tx_type, v.amount, v.currency, v.risk_score, v.outcome,
       v.latency_ms, v.rules, v.shadow_rules
FROM unnest(
    %b::uuid[], %b::text[], %b::text[], %b::text[], %b::date[], %b::smallint[], %b::text[],
    %b::text[], %b::text[], %b::text[], %b::numeric[], %b::text[], %b::float8[], %b::text[],
    %b::int[], %b::smallint[], %b::smallint[]
) AS v(decision_id, transaction_id, account_id, merchant_id, event_date, time_key, country,
       city, channel, tx_type, amount, currency, risk_score, outcome, latency_ms, rules,
       shadow_rules)
JOIN analytics.dim_account a ON a.account_id = v.account_id
JOIN analytics.dim_merchant m ON m.merchant_id = v.merchant_id
JOIN analytics.dim_date d ON d.date = v.event_date
JOIN analytics.dim_location l ON l.country = v.country AND l.city IS NOT DISTINCT FROM v.city
JOIN analytics.dim_channel c ON c.channel = v.channel
ON CONFLICT DO NOTHING
"""
FACTS_WIDTH = 17
