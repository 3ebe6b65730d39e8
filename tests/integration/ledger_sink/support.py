"""Helpers for the sink and webhook suites (integration and faults): produce, read back,
count rows, run a sink or a dispatcher in a thread, and expected balances computed
independently of ``ledger_sink.ledger``."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import psycopg
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import kwargs_row

from ledger_sink import service
from ledger_sink.hashchain import LedgerEntry, seal
from ledger_sink.migrate import upgrade
from ledger_sink.settings import SinkSettings
from ledger_sink.testing import decision, transaction
from ledger_sink.webhooks import service as webhook_service
from ledger_sink.webhooks.settings import WebhookSettings
from schemas.connections import KafkaConnection, PostgresConnection
from schemas.kafka_edge import RawRecord
from schemas.records import Decision, Outcome, TxType
from tests.support.loops import loop_thread

SENTINEL = str(Path(sys.executable).with_name("sentinel"))
TABLES = (
    "transactions",
    "decisions",
    "decision_rule_hits",
    "ledger_entries",
    "balances",
    "analytics.fact_decisions",
)


def wait_until(predicate: Callable[[], bool], timeout_s: float, every_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every_s)
    return predicate()


def produce(
    topic: str,
    records: Iterable[tuple[bytes | None, bytes]],
    bootstrap: str | None = None,
    headers: Sequence[tuple[str, bytes]] = (),
) -> int:
    producer = Producer({"bootstrap.servers": bootstrap or KafkaConnection().bootstrap_servers})
    count = 0
    for key, value in records:
        producer.produce(topic, value, key, headers=list(headers))
        producer.poll(0)
        count += 1
    assert producer.flush(30) == 0
    return count


def read_all(topic: str, bootstrap: str | None = None, timeout_s: float = 30) -> list[RawRecord]:
    """Every record on `topic` now: read up to each partition's end as it was on entry."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap or KafkaConnection().bootstrap_servers,
            "group.id": uuid.uuid4().hex,
            "enable.auto.commit": False,
        }
    )
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in parts
        }
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        reached = {p: 0 for p in parts}
        out: list[RawRecord] = []
        deadline = time.monotonic() + timeout_s
        while any(reached[p] < ends[p] for p in parts) and time.monotonic() < deadline:
            for m in consumer.consume(num_messages=500, timeout=0.2):
                if m.error() is None:
                    heads = {k: v or b"" for k, v in m.headers() or []}
                    out.append(
                        RawRecord(m.topic(), m.partition(), m.offset(), m.key(), m.value(), heads)
                    )
                    reached[m.partition()] = m.offset() + 1
        assert all(reached[p] >= ends[p] for p in parts), "topic not read to its end in time"
        return out
    finally:
        consumer.close()


def counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]  # noqa: S608
            for table in TABLES
        }


def balances(dsn: str) -> dict[str, Decimal]:
    with psycopg.connect(dsn) as conn:
        return dict(conn.execute("SELECT account_id, balance FROM balances").fetchall())


def random_decisions(count: int, accounts: int = 40, seed: int = 9) -> list[Decision]:
    """A reproducible stream: debits and refunds, two in three approved, over `accounts`."""
    rng = random.Random(seed)
    return [
        decision(
            transaction(
                f"acct-{rng.randrange(accounts)}",
                Decimal(rng.randint(1, 20_000)) / 100,
                tx_type=rng.choice([TxType.DEBIT, TxType.DEBIT, TxType.REFUND]),
            ),
            rng.choice([Outcome.APPROVE, Outcome.APPROVE, Outcome.DECLINE]),
        )
        for _ in range(count)
    ]


def expected_balances(decisions: Iterable[Decision]) -> dict[str, Decimal]:
    """Approved debits subtract, approved credits and refunds add; one count per transaction."""
    out: dict[str, Decimal] = defaultdict(lambda: Decimal("0.0000"))
    seen: set[str] = set()
    for d in decisions:
        if d.transaction_id in seen:
            continue
        seen.add(d.transaction_id)
        change = Decimal(0)
        if d.outcome is Outcome.APPROVE:
            sign = -1 if d.transaction.type is TxType.DEBIT else 1
            change = sign * d.transaction.amount
        out[d.account_id] += change
    return dict(out)


@contextmanager
def migrated_database(admin_dsn: str | None = None, app_dsn: str | None = None) -> Iterator[str]:
    """A new database owned by the application role, migrated to head; dropped after."""
    postgres = PostgresConnection()
    app = app_dsn or postgres.dsn.get_secret_value()
    admin = admin_dsn or postgres.admin_dsn.get_secret_value()
    name = f"test_{uuid.uuid4().hex}"
    owner = str(conninfo_to_dict(app)["user"])
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(owner)
            )
        )
    dsn = make_conninfo(app, dbname=name)
    try:
        upgrade(dsn)
        yield dsn
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def sink_thread(settings: SinkSettings) -> AbstractContextManager[threading.Thread]:
    """`sentinel sink run`'s loop in a thread of this process, stopped (gracefully) after."""
    return loop_thread(service.run, settings, "sink")


def caught_up(bootstrap: str, group: str, topic: str) -> bool:
    """`group` has committed every partition's end of `topic`: it processed everything.
    False while the broker cannot tell yet (a leader not known yet for a new topic's
    partition, on a loaded machine): the caller asks again."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        committed = consumer.committed([TopicPartition(topic, p) for p in parts], timeout=10)
        ends = [consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in committed]
        return all(tp.offset == end or end == 0 for tp, end in zip(committed, ends, strict=True))
    except KafkaException as exc:
        if exc.args[0].retriable() or exc.args[0].code() == KafkaError.NOT_LEADER_FOR_PARTITION:
            return False
        raise
    finally:
        consumer.close()


@contextmanager
def dispatcher_thread(settings: WebhookSettings) -> Iterator[threading.Thread]:
    """`sentinel webhooks run`'s event loop in a thread, stopped (gracefully) after."""
    ready = threading.Event()
    box: dict[str, object] = {}

    async def main() -> None:
        stop = asyncio.Event()
        box["loop"], box["stop"] = asyncio.get_running_loop(), stop
        ready.set()
        await webhook_service.run(settings, stop)

    def target() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            box["failure"] = exc

    thread = threading.Thread(target=target, name="dispatcher", daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield thread
    finally:
        loop, stop = box["loop"], box["stop"]
        assert isinstance(loop, asyncio.AbstractEventLoop) and isinstance(stop, asyncio.Event)
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
        failure = box.get("failure")
        if isinstance(failure, BaseException):
            raise failure
    assert not thread.is_alive(), "the dispatcher did not stop"


def sink_process(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`sentinel sink run` as a process of its own, its output in `log`."""
    with log.open("ab") as out:
        return subprocess.Popen([SENTINEL, "sink", "run"], env=env, stdout=out, stderr=out)


def sink_env(prefix: str, dsn: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "SENTINEL_KAFKA_TOPIC_PREFIX": prefix,
        "SENTINEL_POSTGRES_DSN": dsn,
        "SENTINEL_SINK_BATCH_SIZE": "25",
        "SENTINEL_SINK_POLL_TIMEOUT_S": "0.1",
        "SENTINEL_SINK_STATS_INTERVAL_MS": "0",
        "SENTINEL_SINK_RETRY_MAX_S": "1",
        **extra,
    }


def ledger_count(dsn: str) -> int:
    """Entries in the ledger, or -1 while the database does not answer."""
    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            return int(conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0])  # type: ignore[index]
    except psycopg.OperationalError:
        return -1


def stop_gracefully(proc: subprocess.Popen[bytes], timeout_s: float = 20) -> int:
    """SIGTERM, then the exit code (the process is killed if it does not stop in time)."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


def reseal_from(
    tamper: psycopg.Connection, account: str, seq: int, amount: Decimal
) -> list[LedgerEntry]:
    """What an insider with write access does: change entry `seq`'s amount, then recompute
    every balance_after and hash from there to the tail, and the balance row: every chain
    link, every sum and the tail check hold again. The re-sealed chain, oldest first."""
    with tamper.cursor(row_factory=kwargs_row(LedgerEntry)) as cur:
        cur.execute(
            "SELECT account_id, seq, transaction_id, decision_id, outcome, amount, currency,"
            " direction, balance_after, created_at, hash_version, prev_hash, entry_hash"
            " FROM ledger_entries WHERE account_id = %s ORDER BY seq",
            (account,),
        )
        chain = cur.fetchall()
    previous: LedgerEntry | None = None
    resealed = []
    for entry in chain:
        change = amount if entry.seq == seq else entry.amount
        before = previous.balance_after if previous else Decimal("0.0000")
        sign = -1 if entry.direction == "debit" else 1
        content = replace(entry, amount=change, balance_after=before + sign * change)
        if entry.seq >= seq:
            content = seal(content, previous.entry_hash if previous else None)
        resealed.append(content)
        previous = content
    for entry in resealed:
        tamper.execute(
            "UPDATE ledger_entries SET amount = %s, balance_after = %s, prev_hash = %s,"
            " entry_hash = %s WHERE account_id = %s AND seq = %s",
            (entry.amount, entry.balance_after, entry.prev_hash, entry.entry_hash, account,
             entry.seq),
        )  # fmt: skip
    tamper.execute(
        "UPDATE balances SET balance = %s WHERE account_id = %s",
        (resealed[-1].balance_after, account),
    )
    return resealed
