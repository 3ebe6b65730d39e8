"""Webhook delivery statistics per subscription and minute; the console edits named lists.

Revision ID: 20261205_0630
Revises: 20261205_0620
Created: 2026-12-05

- ``webhook_delivery_stats``: the dispatcher's counts per (subscription, minute of wall
  time): HTTP attempts, successes, failures by class (HTTP 4xx, 5xx, other status, no HTTP
  response), retries scheduled (a retry record or a parked entry written) and taken back
  off the retry topic, dead-lettered deliveries, latency sum and count and a histogram
  whose bucket bounds are ``schemas.webhook_stats.LATENCY_BOUNDS_MS`` (one more bucket than
  bounds: the last counts everything slower), and the last attempt's status and time. The
  dispatcher accumulates them in memory and upserts every few seconds, adding its counts
  to the row's (``ledger_sink/webhooks/stats.py``): several dispatcher replicas share a
  row. No foreign key to ``webhook_subscriptions``: a statistic is a fact about deliveries
  that happened, and the check would cost every flush a lookup per row.
- Grants: ``sentinel_webhooks`` writes it (INSERT, and UPDATE and SELECT for the
  ``ON CONFLICT DO UPDATE`` that adds to a row); the console, the API and the reader group
  read it. ``sentinel_console`` gets what ``sentinel_api`` has on the named lists (INSERT
  and UPDATE on ``lists``, UPDATE only for the ``SELECT ... FOR UPDATE`` that serialises
  two edits of a list; INSERT and DELETE on ``list_items``): its Lists page adds and removes
  items through ``reference_store.reference_repo``, the API's own path.
"""

from __future__ import annotations

from alembic import op

revision = "20261205_0630"
down_revision: str | None = "20261205_0620"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE webhook_delivery_stats (
            subscription_id   uuid NOT NULL,
            minute            timestamptz NOT NULL
                              CHECK (date_trunc('minute', minute) = minute),
            deliveries        bigint NOT NULL DEFAULT 0 CHECK (deliveries >= 0),
            successes         bigint NOT NULL DEFAULT 0 CHECK (successes >= 0),
            failed_4xx        bigint NOT NULL DEFAULT 0 CHECK (failed_4xx >= 0),
            failed_5xx        bigint NOT NULL DEFAULT 0 CHECK (failed_5xx >= 0),
            failed_other      bigint NOT NULL DEFAULT 0 CHECK (failed_other >= 0),
            failed_no_response bigint NOT NULL DEFAULT 0 CHECK (failed_no_response >= 0),
            retries_scheduled bigint NOT NULL DEFAULT 0 CHECK (retries_scheduled >= 0),
            retries_taken     bigint NOT NULL DEFAULT 0 CHECK (retries_taken >= 0),
            dead_lettered     bigint NOT NULL DEFAULT 0 CHECK (dead_lettered >= 0),
            latency_ms_sum    double precision NOT NULL DEFAULT 0,
            latency_count     bigint NOT NULL DEFAULT 0 CHECK (latency_count >= 0),
            latency_buckets   bigint[] NOT NULL
                              CHECK (array_ndims(latency_buckets) = 1),
            last_status       smallint,
            last_attempt_at   timestamptz,
            updated_at        timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (subscription_id, minute)
        );
        -- The console reads every subscription's last hour: by minute first.
        CREATE INDEX webhook_delivery_stats_minute ON webhook_delivery_stats (minute);
        COMMENT ON TABLE webhook_delivery_stats IS
            'Webhook deliveries per subscription and minute, upserted by the dispatcher every '
            'few seconds (counts added). latency_buckets: counts per bucket of '
            'schemas.webhook_stats.LATENCY_BOUNDS_MS, the last one unbounded. last_status is '
            'null when the last attempt got no HTTP response.';
        GRANT SELECT, INSERT, UPDATE ON TABLE webhook_delivery_stats TO sentinel_webhooks;
        GRANT SELECT ON TABLE webhook_delivery_stats
            TO sentinel_console, sentinel_api, sentinel_reader;
        GRANT INSERT, UPDATE ON TABLE lists TO sentinel_console;
        GRANT INSERT, DELETE ON TABLE list_items TO sentinel_console;
        """
    )


def downgrade() -> None:
    raise NotImplementedError("SentinelStream's schema is forward-only: write a new migration")
