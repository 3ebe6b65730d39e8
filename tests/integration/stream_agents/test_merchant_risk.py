"""Merchant risk live: the job against a real database and topic equals training's values,
and a real agent worker puts the values it follows into its decisions' features."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest

from decision_core.features.merchant import DELAY_HOURS, HOUR_MS
from decision_core.reference import ReferenceData
from fraudsim.simulate import SimConfig, simulate
from fraudsim.tables import TransactionColumns, label_records, labels_table, transactions_table
from fraudsim.train.data import prepare
from fraudsim.train.merchant_risk import merchant_risk
from ledger_sink.labels import LabelWriter
from schemas.codec import decode_merchant_risk
from schemas.connections import KafkaConnection, PostgresConnection
from schemas.features import MERCHANT_FEATURE_NAMES
from schemas.records import MerchantRisk
from schemas.topics import MERCHANT_RISK, TopicSpec
from stream_agents.merchant_risk.compute import hour_start
from stream_agents.merchant_risk.job import MerchantRiskJob, MerchantRiskSettings
from stream_agents.merchant_risk.topic import RiskPublisher
from tests.integration.ledger_sink.support import migrated_database
from tests.support.agents import Workers, produce, read_topic, transactions, wait_for_decisions

pytestmark = pytest.mark.integration

# ~6,000 transactions on 200 terminals over three weeks: every terminal has a history, and
# two a day are compromised, so fraud shares are far from all-zero.
CONFIG = SimConfig(customers=150, terminals=200, days=21, seed=3)

INSERT_TRANSACTION = """
INSERT INTO transactions (transaction_id, account_id, card_token, amount, currency,
    merchant_id, country, channel, event_ts, type)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""


@pytest.fixture
def ledger_db() -> Iterator[str]:
    with migrated_database() as dsn:
        yield dsn


def fill_ledger(dsn: str, columns: TransactionColumns, labels_table_: object) -> None:
    """The ledger as the sinks leave it: transactions, and labels through the labels writer."""
    txs = [columns.record(i) for i in range(len(columns))]
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO accounts (account_id) VALUES (%s) ON CONFLICT DO NOTHING",
            [(a,) for a in sorted({t.account_id for t in txs})],
        )
        cur.executemany(
            INSERT_TRANSACTION,
            [
                (t.transaction_id, t.account_id, t.card_token, t.amount, t.currency,
                 t.merchant_id, t.country, str(t.channel), t.timestamp, str(t.type))
                for t in txs
            ],
        )  # fmt: skip
    writer = LabelWriter(dsn)
    try:
        writer.write(label_records(labels_table_))
    finally:
        writer.close()


def published(topic: str) -> tuple[dict[tuple[str, int], MerchantRisk], ReferenceData]:
    """Every value by (merchant, hour), and the records applied in order as an agent would."""
    by_hour: dict[tuple[str, int], MerchantRisk] = {}
    reference = ReferenceData()
    for msg in sorted(read_topic(topic), key=lambda m: (m.partition(), m.offset())):
        reference.apply("merchant-risk", msg.key(), msg.value())
        if msg.value() is not None:
            risk = decode_merchant_risk(msg.value())
            by_hour[(risk.merchant_id, int(risk.hour.timestamp() * 1000) // HOUR_MS)] = risk
    return by_hour, reference


def values(risk: MerchantRisk | None) -> tuple[float, ...]:
    if risk is None:
        return (0.0,) * len(MERCHANT_FEATURE_NAMES)
    return tuple(float(np.float32(v)) for v in risk.values)  # the scorer's float32, as training


def test_the_jobs_published_values_equal_trainings_for_the_same_events(
    ledger_db: str, project_topics: dict[str, TopicSpec]
) -> None:
    data = simulate(CONFIG)
    tx_table, label_table = transactions_table(data), labels_table(data)
    training = prepare(tx_table, label_table)
    offline = merchant_risk(training)
    fill_ledger(ledger_db, training.columns, label_table)

    hours = training.ts_ms // HOUR_MS
    first = int(hours.min())
    # Every 9th hour with transactions from day 8 on (earlier ones have no history), then
    # one long after the data, when every merchant must be back to zero.
    asked = sorted({int(h) for h in hours if h >= first + DELAY_HOURS + 24})[::9]
    after = int(hours.max()) + DELAY_HOURS + 24 * 31
    prefix = project_topics["merchant-risk"].name.removesuffix(MERCHANT_RISK.name)
    settings = MerchantRiskSettings(
        kafka=KafkaConnection(topic_prefix=prefix), postgres=PostgresConnection(dsn=ledger_db)
    )
    job = MerchantRiskJob(settings, clock=lambda: datetime.now(UTC))
    try:
        reports = [job.run_hour(hour) for hour in [*asked, after]]
    finally:
        job.close()

    by_hour, reference = published(settings.topic)
    merchant_ids = training.columns.values["merchant_id"]
    checked = 0
    for hour in asked:
        for row in np.flatnonzero(hours == hour).tolist():
            got = values(by_hour.get((merchant_ids[row], hour)))
            assert got == tuple(offline[row].tolist()), (merchant_ids[row], hour)
            checked += 1
    assert checked > 100 and len(asked) > 20
    assert sum(1 for row in offline if row[5] > 0) > 100  # fraud shares are not all zero
    assert sum(1 for row in offline if row[11] > 0) > 100  # nor the recent windows
    assert reports[-1].published == 0 and reports[-1].tombstones == reports[-2].published > 0
    assert reference.merchants == {}  # every merchant tombstoned once gone to zero


@pytest.mark.slow
def test_an_agent_following_the_topic_puts_the_values_into_decisions_features(
    agents: tuple[str, Workers],
) -> None:
    prefix, workers = agents
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=20)
    txs = transactions(accounts=3, per_account=4, start=start)
    stamp = int(start.timestamp() * 1000) // HOUR_MS
    values = (12, 0.25, 80, 0.125, 300, 0.05, 3, 0.5, 20, 0.2, 90, 0.1)
    risky = MerchantRisk.of("m-1", hour_start(stamp), values, datetime.now(UTC))
    publisher = RiskPublisher(KafkaConnection(), f"{prefix}{MERCHANT_RISK.name}")
    publisher.publish([("m-1", risky), ("m-2", risky), ("m-2", None)])  # m-2 dropped to zero
    publisher.close()
    workers.start()  # a starting worker loads the topic before it decides anything
    produce(prefix, txs)
    decisions = wait_for_decisions(prefix, {t.transaction_id for t in txs})

    seen: dict[str, set[tuple[float, ...]]] = defaultdict(set)
    for d in decisions:
        merchant = d.transaction.merchant_id
        seen[merchant].add(tuple(d.features[name] for name in MERCHANT_FEATURE_NAMES))
    assert seen["m-1"] == {tuple(float(v) for v in values)}
    assert seen["m-2"] == seen["m-3"] == {(0.0,) * 12}
    assert len(decisions) == len(txs)
