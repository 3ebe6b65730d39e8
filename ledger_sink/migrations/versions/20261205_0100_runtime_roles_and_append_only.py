"""Runtime roles with only the grants their service needs; decided facts become append-only.

Revision ID: 20261205_0100
Revises: 20261204_0100
Created: 2026-12-05

The role that runs the migrations owns every table: only an owner may DROP a table or
``ALTER TABLE ... DISABLE TRIGGER``, so no service may run as it. This migration creates one
NOLOGIN group role per service (cluster-wide, so only when missing) and grants each what its
code does, nothing more; login roles are members of one group (``sentinel db roles``
creates them for the local stack). The groups:

- ``sentinel_sink``: the decision sink. INSERT and SELECT on the decided facts and the
  ledger, never UPDATE, DELETE or TRUNCATE there; ``balances`` is the one row it updates
  (and locks, FOR UPDATE) per account, and the star schema's merchant dimension is upserted.
- ``sentinel_api``: the ingest API. Reads everything it serves; writes only its own admin
  tables (API keys, rules and their versions and audit, lists, account profiles,
  webhook subscriptions).
- ``sentinel_labels``: the labels sink (labels upserted: the newest verdict wins).
- ``sentinel_webhooks``: the dispatcher and its CLI: webhook subscriptions.
- ``sentinel_reader``: read-only (``sentinel ledger verify``, replay, the merchant-risk job).

``transactions``, ``decisions`` and ``decision_rule_hits`` now refuse UPDATE, DELETE and
TRUNCATE for every role, as ``ledger_entries`` does (``refuse_mutation``, SQLSTATE 42501).
A later migration that adds a table must grant it to the roles that need it.
"""

from __future__ import annotations

from alembic import op

revision = "20261205_0100"
down_revision: str | None = "20261204_0100"
branch_labels = None
depends_on = None

GROUPS = (
    "sentinel_sink",
    "sentinel_api",
    "sentinel_labels",
    "sentinel_webhooks",
    "sentinel_reader",
)

# (role, privileges, tables): what each service's code runs, read from its SQL.
GRANTS = (
    ("sentinel_sink", "SELECT, INSERT", "accounts, transactions, decisions, decision_rule_hits"),
    ("sentinel_sink", "SELECT, INSERT", "ledger_entries"),
    ("sentinel_sink", "SELECT, INSERT, UPDATE", "balances"),
    ("sentinel_sink", "SELECT, INSERT", "analytics.dim_account, analytics.dim_location"),
    ("sentinel_sink", "SELECT, INSERT", "analytics.dim_date, analytics.fact_decisions"),
    ("sentinel_sink", "SELECT, INSERT, UPDATE", "analytics.dim_merchant"),
    ("sentinel_sink", "SELECT", "analytics.dim_time, analytics.dim_channel"),
    ("sentinel_api", "SELECT", "ALL TABLES IN SCHEMA public"),
    ("sentinel_api", "INSERT, UPDATE", "api_keys, accounts, webhook_subscriptions"),
    # UPDATE on rules and lists only for SELECT ... FOR UPDATE, which serialises edits.
    ("sentinel_api", "INSERT, UPDATE", "rules, lists"),
    ("sentinel_api", "INSERT", "rule_versions, rule_audit"),
    ("sentinel_api", "INSERT, DELETE", "list_items"),
    ("sentinel_labels", "SELECT, INSERT, UPDATE", "labels"),
    ("sentinel_webhooks", "SELECT, INSERT, UPDATE", "webhook_subscriptions"),
    ("sentinel_reader", "SELECT", "ALL TABLES IN SCHEMA public"),
    ("sentinel_reader", "SELECT", "ALL TABLES IN SCHEMA analytics"),
)

APPEND_ONLY = ("transactions", "decisions", "decision_rule_hits")


def _create_groups() -> None:
    # Roles belong to the cluster, not to this database: another database's migration may
    # have created them, or may be creating them right now (duplicate_object).
    for group in GROUPS:
        op.execute(
            f"""
            DO $$
            BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{group}') THEN
                    CREATE ROLE {group} NOLOGIN;
                END IF;
            EXCEPTION
                WHEN duplicate_object THEN NULL;
                WHEN insufficient_privilege THEN
                    RAISE EXCEPTION 'role {group} does not exist and % may not create it',
                        current_user
                        USING HINT = 'Run `sentinel db roles` as a superuser first, or give '
                                     'the migration role CREATEROLE.';
            END;
            $$;
            """
        )


def upgrade() -> None:
    _create_groups()
    for group in GROUPS:
        op.execute(f"GRANT USAGE ON SCHEMA public, analytics TO {group}")
    for role, privileges, tables in GRANTS:
        target = tables if tables.startswith("ALL ") else f"TABLE {tables}"
        op.execute(f"GRANT {privileges} ON {target} TO {role}")
    for table in APPEND_ONLY:
        op.execute(
            f"""
            CREATE TRIGGER {table}_append_only
                BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION refuse_mutation();
            CREATE TRIGGER {table}_no_truncate
                BEFORE TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION refuse_mutation();
            """
        )
    op.execute(
        """
        COMMENT ON TABLE balances IS
            'Current balance per account, updated in the same transaction as the ledger '
            'insert; only sentinel_sink may write it, and `sentinel ledger verify` '
            'recomputes it from the ledger.';
        """
    )


def downgrade() -> None:
    raise NotImplementedError("SentinelStream's schema is forward-only: write a new migration")
