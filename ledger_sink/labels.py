"""`sentinel labels sink`: fraud labels from the ``labels`` topic into the ``labels`` table.

Its own process (and consumer group), built from the decision sink's parts: the same
``Sink`` loop (database commit, then dead letters, then offsets; transient failures retried,
a row PostgreSQL refuses isolated by bisection and dead-lettered) with a label decoder and
writer. The table keeps the latest verdict per transaction: a label replaces the stored one
only when it is newer (``labelled_at``), so a redelivered label changes nothing and a batch
can be written again and again. How late a label arrives does not matter: a chargeback weeks
after its transaction is written like any other, with the ``labelled_at`` it carries. The
merchant-risk job reads this table.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import structlog
from pydantic_settings import SettingsConfigDict

from ledger_sink.connection import OwnConnection
from ledger_sink.raw import dead_letter
from ledger_sink.rows import columns
from ledger_sink.service import consume
from ledger_sink.settings import ConsumerSettings
from ledger_sink.sink import Incoming
from ledger_sink.writer import WriteResult
from schemas.codec import decode_label
from schemas.errors import SchemaError
from schemas.kafka_edge import RawRecord
from schemas.records import DeadLetter, Label
from schemas.topics import LABELS

log = structlog.get_logger("ledger_sink.labels")

# RETURNING names the rows inserted or replaced; a label no newer than the stored one (a
# redelivery) matches the conflict but not the WHERE, and is not returned.
UPSERT_LABELS = """
INSERT INTO labels (
    transaction_id, account_id, merchant_id, is_fraud, scenario, labelled_at, transaction_ts,
    reason
)
SELECT * FROM unnest(
    %b::text[], %b::text[], %b::text[], %b::bool[], %b::text[], %b::timestamptz[],
    %b::timestamptz[], %b::text[]
)
ON CONFLICT (transaction_id) DO UPDATE SET
    account_id = EXCLUDED.account_id,
    merchant_id = EXCLUDED.merchant_id,
    is_fraud = EXCLUDED.is_fraud,
    scenario = EXCLUDED.scenario,
    labelled_at = EXCLUDED.labelled_at,
    transaction_ts = EXCLUDED.transaction_ts,
    reason = EXCLUDED.reason
WHERE labels.labelled_at < EXCLUDED.labelled_at
RETURNING transaction_id
"""
UPSERT_WIDTH = 8


class LabelsSettings(ConsumerSettings):
    """What `sentinel labels sink` reads from its environment (``SENTINEL_LABELS_*``)."""

    model_config = SettingsConfigDict(
        env_prefix="SENTINEL_LABELS_", frozen=True, extra="ignore", use_attribute_docstrings=True
    )

    group_id: str = "labels-sink"
    """The consumer group, prefixed with the topic prefix."""

    @property
    def labels_topic(self) -> str:
        return f"{self.kafka.topic_prefix}{LABELS.name}"


def decode(record: RawRecord) -> Incoming[Label] | DeadLetter:
    """A label ready to write, or the dead letter saying why it is not one."""
    try:
        label = decode_label(record.value)
    except SchemaError as exc:
        return dead_letter(record, exc.code, str(exc))
    if not label.transaction_id or not label.account_id or not label.merchant_id:
        return dead_letter(
            record, "invalid_label", "transaction, account and merchant ids required"
        )
    return Incoming(record, label)


def latest_per_transaction(labels: Sequence[Label]) -> list[Label]:
    """One label per transaction, the newest (the last of equals), sorted by transaction id:
    one statement may not touch a row twice, and two sinks meet their locks in one order."""
    latest: dict[str, Label] = {}
    for label in labels:
        held = latest.get(label.transaction_id)
        if held is None or label.labelled_at >= held.labelled_at:
            latest[label.transaction_id] = label
    return [latest[t] for t in sorted(latest)]


class LabelWriter:
    """Owns one connection, reopened after a failure; not thread-safe (one per sink)."""

    def __init__(self, dsn: str) -> None:
        self._db = OwnConnection(dsn)

    def write(self, labels: Sequence[Label], /) -> WriteResult:
        batch = latest_per_transaction(labels)
        rows = [
            (x.transaction_id, x.account_id, x.merchant_id, x.is_fraud, x.scenario,
             x.labelled_at, x.transaction_timestamp, x.reason)
            for x in batch
        ]  # fmt: skip
        with self._db.transaction() as conn:
            written = len(conn.execute(UPSERT_LABELS, columns(rows, UPSERT_WIDTH)).fetchall())
        return WriteResult(written=written, duplicates=len(labels) - written)

    def close(self) -> None:
        self._db.close()


def run(settings: LabelsSettings, stopping: threading.Event) -> None:
    """Consume labels into the ``labels`` table until `stopping` is set."""
    writer = LabelWriter(settings.postgres.dsn.get_secret_value())
    consume("labels sink", settings, settings.labels_topic, writer, decode, stopping)
