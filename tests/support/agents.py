"""Real stream-agent worker processes for tests, and readers of what they produced."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from decision_core.features import AccountFeatures
from decision_core.pipeline import apply_transaction
from decision_core.transaction_features import FEATURE_CONFIG
from deploy.local.pipeline import AGENT_WORKER
from deploy.topics import TopicAdmin, apply
from schemas.codec import decode_decision, decode_transaction, encode_transaction
from schemas.connections import KafkaConnection
from schemas.enums import Channel, TxType
from schemas.errors import UnknownSchemaId
from schemas.records import Decision, Transaction
from schemas.topics import DECISIONS, TRANSACTIONS, declared_topics
from stream_agents.app import FEATURE_TABLE
from stream_agents.checkpoint import is_mark_key
from stream_agents.settings import AgentSettings
from tests.support.models import announce_model, train_tiny_model

SENTINEL = str(Path(sys.executable).with_name("sentinel"))
BOOTSTRAP = KafkaConnection().bootstrap_servers


class Workers:
    """Worker processes sharing one consumer group, on one test's topics."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, wait: bool = True, command: Sequence[str] = AGENT_WORKER
    ) -> subprocess.Popen[bytes]:
        log = self.logs / f"worker-{len(self.procs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                list(command), env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        self.procs.append(proc)
        if wait:
            wait_for_log(log, "[^Worker]: Ready", proc)
        return proc

    def log_text(self, n: int) -> str:
        """Worker ``n``'s log so far."""
        return (self.logs / f"worker-{n}.log").read_text(errors="replace")

    def report(self, lines_per_worker: int = 80) -> str:
        """The notable lines of each worker's log (warnings, errors, rebalances, recovery):
        added to a failing test's report (``tests/conftest.py``), in CI the only trace."""
        notable = ("WARNING", "ERROR", "CRITICAL", "Recovery]", "assigned", "Ready", "Traceback")
        parts = []
        for n in range(len(self.procs)):
            log = self.logs / f"worker-{n}.log"
            text = log.read_text(errors="replace").splitlines() if log.exists() else []
            kept = [line[:300] for line in text if any(word in line for word in notable)]
            parts.append(f"--- worker-{n} ({len(text)} lines) ---")
            parts.extend(kept[-lines_per_worker:])
        return "\n".join(parts)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for_log(
    log: Path, marker: str, proc: subprocess.Popen[bytes], timeout: float = 90
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            pytest.fail(f"worker exited {proc.returncode}:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)
    pytest.fail(f"worker not ready in {timeout} s:\n{log.read_text()[-4000:]}")


def agent_env(prefix: str, registry: Path, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SENTINEL_KAFKA_TOPIC_PREFIX": prefix,
        "SENTINEL_AGENTS_MODEL_REGISTRY": str(registry),
        "SENTINEL_AGENTS_DATA_DIR": str(data_dir),
        "SENTINEL_AGENTS_COMMIT_INTERVAL_S": "0.5",
    }


def agents_group(prefix: str) -> str:
    """The agents' consumer group under ``prefix``."""
    return f"{prefix}{AgentSettings().app_id}"


def changelog_topic(prefix: str) -> str:
    return f"{prefix}{AgentSettings().app_id}-{FEATURE_TABLE}-changelog"


def create_topics(prefix: str) -> None:
    apply(TopicAdmin(KafkaConnection()), declared_topics(prefix))


def delete_topics(prefix: str) -> None:
    admin = TopicAdmin(KafkaConnection())
    names = [s.name for s in declared_topics(prefix)]
    # faust's own: the table's changelog and its leader-election topic.
    leader = f"{prefix}{AgentSettings().app_id}-__assignor-__leader"
    existing = admin.admin.list_topics(timeout=10).topics
    admin.delete(n for n in [*names, changelog_topic(prefix), leader] if n in existing)


def transactions(
    accounts: int, per_account: int, start: datetime | None = None
) -> list[Transaction]:
    """Interleaved transactions a minute apart per account, some in a new country."""
    start = start or datetime.now(UTC) - timedelta(hours=2)
    out = []
    for n in range(per_account):
        for a in range(accounts):
            out.append(
                Transaction(
                    transaction_id=str(uuid.uuid4()),
                    account_id=f"acct-{a}",
                    card_token="tok_abcdefgh",
                    amount=Decimal(f"{10 + (n * 7 + a) % 90}.25"),
                    currency="INR",
                    merchant_id=f"m-{(n + a) % 5}",
                    country="BR" if n % 9 == 8 else "IN",
                    channel=Channel.POS,
                    timestamp=start + timedelta(minutes=n, seconds=a),
                    type=TxType.DEBIT,
                )
            )
    return out


def produce(prefix: str, txs: Iterable[Transaction]) -> None:
    producer = Producer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "partitioner": "murmur2_random",
            "enable.idempotence": True,
            "linger.ms": 5,
        }
    )
    for tx in txs:
        producer.produce(
            f"{prefix}{TRANSACTIONS.name}", encode_transaction(tx), tx.account_id.encode()
        )
        producer.poll(0)
    assert producer.flush(30) == 0


def read_topic(
    topic: str, settle_s: float = 1.5, isolation: str = "read_committed"
) -> list[Message]:
    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": uuid.uuid4().hex,
            "enable.auto.commit": False,
            "isolation.level": isolation,
        }
    )
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        out: list[Message] = []
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < settle_s:
            batch = [m for m in consumer.consume(1000, 0.2) if m.error() is None]
            if batch:
                quiet_since = time.monotonic()
            out.extend(batch)
        return out
    finally:
        consumer.close()


def produce_as_a_default_client(
    topic: str, records: list[tuple[bytes | None, Transaction]]
) -> dict[str, int]:
    """Each transaction produced as a Go, .NET or Python gateway does by default (no
    ``partitioner`` set: ``consistent_random``); the partition each one landed on."""
    producer = Producer({"bootstrap.servers": BOOTSTRAP, "enable.idempotence": True})
    landed: dict[str, int] = {}

    def delivered(error: KafkaError | None, msg: Message) -> None:
        assert error is None, error
        landed[decode_transaction(msg.value() or b"").transaction_id] = msg.partition() or 0

    for key, tx in records:
        producer.produce(topic, encode_transaction(tx), key, on_delivery=delivered)
        producer.poll(0)
    assert producer.flush(30) == 0
    return landed


def wait_for_decisions(prefix: str, expected: set[str], timeout: float = 120) -> list[Decision]:
    """Every decision once each of ``expected`` transaction ids has at least one; the test
    fails with where the undecided ones are (``undecided_report``) when some have none by
    ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        decisions = [decode_decision(m.value()) for m in read_topic(f"{prefix}{DECISIONS.name}")]
        missing = expected - {d.transaction_id for d in decisions}
        if not missing:
            return decisions
        if time.monotonic() > deadline:
            pytest.fail(undecided_report(prefix, missing, timeout))
        time.sleep(1)


def undecided_report(prefix: str, missing: set[str], timeout: float) -> str:
    """Where the transactions without a decision sit, partition by partition, beside the
    agents' applied marks, their group's committed offsets and each partition's end: a few
    lines that tell a consumer that skipped records from one that never got them (on CI,
    where pytest does not truncate, a set diff of ids would bury everything else)."""
    topic = f"{prefix}{TRANSACTIONS.name}"
    where: dict[int, list[int]] = defaultdict(list)
    ends: dict[int, int] = {}
    for msg in read_topic(topic):
        ends[msg.partition()] = max(ends.get(msg.partition(), -1), msg.offset())
        try:
            undecided = decode_transaction(msg.value()).transaction_id in missing
        except UnknownSchemaId:  # written by code of a version this process lacks
            undecided = False
        if undecided:
            where[msg.partition()].append(msg.offset())
    marks = applied_marks(prefix)
    committed = group_committed(prefix, sorted(ends))
    lines = [f"{len(missing)} transactions without a decision after {timeout:.0f} s"]
    for partition in sorted(set(where) | set(ends)):
        offsets = sorted(where.get(partition, []))
        undecided = f"{len(offsets)} undecided" + (
            f" at offsets {offsets[0]}..{offsets[-1]}" if offsets else ""
        )
        lines.append(
            f"  partition {partition}: {undecided}; applied mark {marks.get(partition)}, "
            f"committed {committed.get(partition)}, last offset {ends.get(partition)}"
        )
    return "\n".join(lines)


def commit_group(prefix: str, offsets: dict[int, int]) -> None:
    """Commit the agents' consumer group at these (next) offsets, while no worker runs:
    the state a consumer leaves when it commits past records, or never commits them."""
    topic = f"{prefix}{TRANSACTIONS.name}"
    with group_consumer(prefix) as group:
        where = [TopicPartition(topic, p, offset) for p, offset in offsets.items()]
        group.commit(offsets=where, asynchronous=False)


def group_committed(prefix: str, partitions: Sequence[int]) -> dict[int, int]:
    """The agents' consumer group's committed (next) offset per partition that has one."""
    topic = f"{prefix}{TRANSACTIONS.name}"
    with group_consumer(prefix) as group:
        answer = group.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        return {tp.partition: tp.offset for tp in answer if tp.offset >= 0}


@contextlib.contextmanager
def group_consumer(prefix: str) -> Iterator[Consumer]:
    """A consumer in the agents' group that never subscribes: it only commits or asks."""
    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": agents_group(prefix),
            "enable.auto.commit": False,
        }
    )
    try:
        yield consumer
    finally:
        consumer.close()


def decision_records(prefix: str, isolation: str = "read_committed") -> Counter[str]:
    """How many decision records each transaction id has on the decisions topic."""
    records = read_topic(f"{prefix}{DECISIONS.name}", isolation=isolation)
    return Counter(decode_decision(m.value()).transaction_id for m in records)


def transaction_offsets(prefix: str) -> dict[str, int]:
    """Each transaction id's offset in its partition of the transactions topic."""
    records = read_topic(f"{prefix}{TRANSACTIONS.name}")
    return {decode_transaction(m.value()).transaction_id: m.offset() for m in records}


def replayed_states(prefix: str) -> dict[str, bytes]:
    """Each account's state recomputed from the source records, in partition order."""
    states: dict[str, AccountFeatures] = defaultdict(lambda: AccountFeatures(FEATURE_CONFIG))
    records = read_topic(f"{prefix}{TRANSACTIONS.name}")
    for msg in sorted(records, key=lambda m: (m.partition(), m.offset())):
        tx = decode_transaction(msg.value())
        # As the agent applies it (its currency, a reused id changing nothing).
        apply_transaction(states[tx.account_id], tx, msg.partition(), msg.offset())
    return {account: state.to_bytes() for account, state in states.items()}


def changelog_states(prefix: str) -> dict[str, bytes]:
    """The latest state per account as the agents wrote it to the changelog."""
    latest: dict[str, bytes] = {}
    for msg in sorted(
        read_topic(changelog_topic(prefix)), key=lambda m: (m.partition(), m.offset())
    ):
        if not is_mark_key(msg.key()):
            latest[msg.key().decode()] = msg.value()
    return latest


def applied_marks(prefix: str) -> dict[int, int]:
    """Each source partition's highest applied offset, as the agents last recorded it."""
    marks: dict[int, int] = {}
    for msg in read_topic(changelog_topic(prefix)):
        if is_mark_key(msg.key()):
            marks[msg.partition()] = max(marks.get(msg.partition(), -1), int(msg.value()))
    return marks


def last_offsets(prefix: str) -> dict[int, int]:
    """Each source partition's last offset holding a transaction."""
    last: dict[int, int] = {}
    for msg in read_topic(f"{prefix}{TRANSACTIONS.name}"):
        last[msg.partition()] = max(last.get(msg.partition(), -1), msg.offset())
    return last


def by_transaction(decisions: Sequence[Decision]) -> Iterator[tuple[str, list[Decision]]]:
    grouped: dict[str, list[Decision]] = defaultdict(list)
    for decision in decisions:
        grouped[decision.transaction_id].append(decision)
    yield from grouped.items()


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[tuple[str, Workers]]:
    """This test's topics (own prefix), a tiny model announced as champion, and a pool of
    workers to start."""
    prefix = f"test-{uuid.uuid4().hex[:10]}."
    create_topics(prefix)
    announce_model(prefix, train_tiny_model(tmp_path / "models"))
    workers = Workers(agent_env(prefix, tmp_path / "models", tmp_path / "data"), tmp_path)
    try:
        yield prefix, workers
    finally:
        workers.stop_all()
        delete_topics(prefix)


def assert_decided_identically(
    prefix: str, expected: set[str], timeout: float, same_outcome: bool = True
) -> dict[str, list[Decision]]:
    """Every expected transaction decided, each with one decision id however often it was
    decided (and, unless ``same_outcome`` is off, one outcome); its decisions by id."""
    grouped = dict(by_transaction(wait_for_decisions(prefix, expected, timeout=timeout)))
    assert set(grouped) == expected
    assert all(len({d.decision_id for d in ds}) == 1 for ds in grouped.values())
    if same_outcome:
        assert all(len({d.outcome for d in ds}) == 1 for ds in grouped.values())
    return grouped


def assert_state_is_the_source_replayed(prefix: str) -> None:
    """The changelog's states equal a recomputation over the source records (nothing
    counted twice), and every partition's applied mark is its last offset (nothing left)."""
    assert changelog_states(prefix) == replayed_states(prefix)
    assert applied_marks(prefix) == last_offsets(prefix)
