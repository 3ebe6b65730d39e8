"""The ledger as a training data set: what `sentinel train --since` retrains on.

Live traffic lands in the ledger (``transactions``, every field of the contract) and so do
its labels (``labels``: analysts' verdicts from the review queue, chargebacks and fraud
confirmations from ``POST /v1/labels`` or ``sentinel labels import``, however late, each
with its ``labelled_at``). ``export`` reads the transactions of a range of event time with
their fraud labels and writes the folder ``sentinel train`` reads (``fraudsim.tables``), in
canonical order, so training on the ledger is training on a data set like any other:
features by the stream's code, labels used only from their ``labelled_at``.

A label that says genuine (an analyst approved the transaction) writes no label row: a
transaction without a fraud label is genuine, to training as to the live job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import psycopg
import pyarrow as pa

from fraudsim.tables import (
    TransactionColumns,
    canonical,
    rows_table,
    split_rows,
    write_tables,
)

_BATCH: Final = 50_000
_FIELDS: Final = ("transaction_id", "account_id", "card_token", "currency", "merchant_id", "mcc",
                  "country", "city", "lat", "lon", "channel", "device_id", "type")  # fmt: skip
# Amounts in cents: the API and the agent refuse more decimals than a currency has, and no
# currency the contract accepts has more than two. A server-side cursor streams the range.
_RANGE: Final = """
SELECT t.transaction_id, t.account_id, t.card_token, t.currency, t.merchant_id, t.mcc,
       t.country, t.city, t.lat, t.lon, t.channel, t.device_id, t.type,
       (t.amount * 100)::bigint AS cents,
       (extract(epoch FROM t.event_ts) * 1000)::bigint AS ts_ms,
       coalesce(l.is_fraud, false) AS is_fraud, l.scenario,
       (extract(epoch FROM l.labelled_at) * 1000)::bigint AS labelled_at_ms
FROM transactions t
LEFT JOIN labels l ON l.transaction_id = t.transaction_id
WHERE t.event_ts >= %(since)s AND t.event_ts < %(until)s
"""


@dataclass(frozen=True, slots=True)
class Exported:
    directory: Path
    transactions: int
    frauds: int


def export(dsn: str, since: datetime, until: datetime, directory: Path) -> Exported:
    """Write the ledger's transactions of [since, until) and their fraud labels as a data set."""
    batches = []
    with psycopg.connect(dsn) as conn, conn.cursor(name="sentinel_training_export") as cur:
        cur.itersize = _BATCH
        cur.execute(_RANGE, {"since": since, "until": until})
        while rows := cur.fetchmany(_BATCH):
            batches.append(_batch(rows))
    if not batches:
        raise ValueError(f"the ledger holds no transaction from {since} to {until}")
    table = canonical(pa.concat_tables(batches))
    transactions, labels = split_rows(table)
    meta = {"source": "ledger", "since": since.isoformat(), "until": until.isoformat(),
            "labels_as_of": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip
    write_tables(transactions, labels, directory, {"sentinel_export": json.dumps(meta)})
    (directory / "export.json").write_text(json.dumps(meta, indent=2) + "\n")
    return Exported(directory, transactions.num_rows, labels.num_rows)


def _batch(rows: list[tuple[Any, ...]]) -> Any:
    n = len(_FIELDS)
    columns = TransactionColumns(
        {name: [r[i] for r in rows] for i, name in enumerate(_FIELDS)},
        [r[n + 1] for r in rows],
        [r[n] for r in rows],
    )
    labels = {
        "is_fraud": [r[n + 2] for r in rows],
        "scenario": [r[n + 3] for r in rows],
        "labelled_at": [r[n + 4] or 0 for r in rows],
    }
    return rows_table(columns, labels)
