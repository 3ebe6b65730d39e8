"""The job's PostgreSQL edge: one query for the window's counts per merchant and hour."""

from __future__ import annotations

import psycopg

from decision_core.features.merchant import LOOKBACK_HOURS
from stream_agents.merchant_risk.compute import LedgerCounts, hour_start

# Transactions of the windows (the oldest starts LOOKBACK_HOURS before h, the recent ones
# end at h), by merchant and UTC hour of their event time, with how many carry a fraud label
# the ledger had before hour h began: values for h do not depend on when the job ran (save
# for a transaction of the hour before still on its way to the ledger, which the job's
# settle delay waits for). The range on event_ts is served by transactions_event_ts.
WINDOW_COUNTS = """
SELECT t.merchant_id,
       floor(extract(epoch FROM t.event_ts) / 3600)::bigint AS hour,
       count(*) AS transactions,
       count(*) FILTER (WHERE l.is_fraud AND l.labelled_at < %(known_before)s) AS frauds
FROM transactions AS t
LEFT JOIN labels AS l ON l.transaction_id = t.transaction_id
WHERE t.event_ts >= %(since)s AND t.event_ts < %(until)s
GROUP BY 1, 2
"""


def window_counts(conn: psycopg.Connection, hour: int) -> LedgerCounts:
    """The counts every value for ``hour`` depends on (older transactions are not read)."""
    params = {
        "since": hour_start(hour - LOOKBACK_HOURS),
        "until": hour_start(hour),  # the recent windows end at the hour itself
        "known_before": hour_start(hour),
    }
    rows = conn.execute(WINDOW_COUNTS, params).fetchall()
    return LedgerCounts.from_rows((str(m), int(h), int(n), int(f)) for m, h, n, f in rows)
