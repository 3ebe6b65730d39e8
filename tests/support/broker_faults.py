"""A private 3-broker Kafka cluster with the whole pipeline on it, for broker faults.

Traffic (a paced producer, ``bench.failover_traffic.Feeder``) -> an agent worker -> the
ledger sink -> PostgreSQL, and the webhook dispatcher -> a receiver. The cluster runs on
free ports beside the shared stack (whose PostgreSQL it reuses, in a database of its own),
so killing its brokers disturbs no other test. tests/faults/test_broker_faults.py and
bench/bench_brokers.py share it.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka.admin import AdminClient
from psycopg import AsyncConnection

from bench.failover_traffic import DecisionWatch, Feeder
from deploy.local.kafka import KafkaService, kafka_services
from deploy.local.pipeline import AGENT_WORKER
from deploy.local.process import wait_until
from deploy.topics import TopicAdmin, apply
from fraudsim.announce import announce
from ledger_sink.webhooks import subscriptions
from schemas.connections import KafkaConnection
from schemas.topics import DECISIONS, TRANSACTIONS, declared_topics
from tests.integration.ledger_sink.support import migrated_database, sink_env, stop_gracefully
from tests.support.agents import agent_env
from tests.support.models import train_tiny_model
from tests.support.private_kafka import private_kafka_settings
from tests.support.receiver import LOCAL_ENV, LOCAL_POLICY, Receiver

SECRET = "whsec_broker_faults_0123456789"
PREFIX = "faults."
SENTINEL = str(Path(sys.executable).with_name("sentinel"))


class Cluster:
    """Three KRaft nodes on free ports, in ``root``: started, killed, restarted, stopped."""

    def __init__(self, root: Path, brokers: int = 3, heap: str = "384m") -> None:
        self.settings = private_kafka_settings(root, brokers, heap)
        self.nodes = kafka_services(self.settings)
        self.bootstrap = ",".join(node.address for node in self.nodes)

    def start(self, timeout_s: float = 120) -> None:
        for node in self.nodes:
            node.prepare()
        for node in self.nodes:  # all before any is awaited: a quorum needs two
            node.start()
        for node in self.nodes:
            self.await_answers(node, timeout_s)

    def await_answers(self, node: KafkaService, timeout_s: float = 120) -> None:
        if not wait_until(node.answers, timeout_s):
            raise RuntimeError(f"{node.name} did not answer in {timeout_s} s: {node.log_file}")

    def node(self, node_id: int) -> KafkaService:
        return self.nodes[node_id - 1]

    def stop(self) -> None:
        """All nodes at once (see ``deploy.local.stack.down``)."""
        with ThreadPoolExecutor(max_workers=len(self.nodes)) as pool:
            list(pool.map(lambda node: node.stop(), self.nodes))

    def partitions(self, topics: Iterable[str]) -> list[Any]:
        """The partitions' metadata (leader, replicas, in-sync replicas) of ``topics``."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        metadata = admin.list_topics(timeout=10).topics
        return [p for t in topics for p in metadata[t].partitions.values()]

    def leader_of_most(self, topics: Iterable[str]) -> int:
        """The node leading the most partitions of ``topics``."""
        leaders = Counter(p.leader for p in self.partitions(topics))
        return int(leaders.most_common(1)[0][0])

    def in_sync(self, topics: Iterable[str]) -> bool:
        """Whether every partition of ``topics`` has all its replicas in sync."""
        try:
            return all(len(p.isrs) == len(p.replicas) for p in self.partitions(topics))
        except Exception:  # noqa: BLE001 - metadata unavailable mid-election: not yet
            return False


@dataclass
class Pipeline:
    """The pipeline's processes on a cluster, and the traffic through them."""

    cluster: Cluster
    root: Path
    dsn: str
    receiver: Receiver
    rate: int
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    feeder: Feeder | None = None
    watch: DecisionWatch | None = None

    @property
    def topics(self) -> list[str]:
        return [f"{PREFIX}{TRANSACTIONS.name}", f"{PREFIX}{DECISIONS.name}"]

    def env(self) -> dict[str, str]:
        return {
            **agent_env(PREFIX, self.root / "models", self.root / "agents"),
            **sink_env(PREFIX, self.dsn, SENTINEL_SINK_INSTANCE_ID="sink-0"),
            **LOCAL_ENV,
            "SENTINEL_KAFKA_BOOTSTRAP_SERVERS": self.cluster.bootstrap,
            "SENTINEL_AGENTS_INSTANCE_ID": "worker-0",
            "SENTINEL_WEBHOOKS_INSTANCE_ID": "hooks-0",
            "SENTINEL_WEBHOOKS_COMMIT_INTERVAL_S": "0.2",
        }

    def start(self, seconds: float) -> None:
        """Topics, model and subscription, then the services, then ``seconds`` of traffic."""
        apply(
            TopicAdmin(KafkaConnection(bootstrap_servers=self.cluster.bootstrap)),
            declared_topics(PREFIX),
        )
        kafka = KafkaConnection(bootstrap_servers=self.cluster.bootstrap, topic_prefix=PREFIX)
        announce(kafka, "champion", train_tiny_model(self.root / "models"))
        asyncio.run(self._subscribe())
        env = self.env()
        self._spawn("worker", list(AGENT_WORKER), env)
        self._spawn("sink", [SENTINEL, "sink", "run"], env)
        self._spawn("webhooks", [SENTINEL, "webhooks", "run"], env)
        self.watch = DecisionWatch(PREFIX, self.cluster.bootstrap)
        self.feeder = Feeder(PREFIX, self.rate, seconds, self.cluster.bootstrap)
        self.watch.start()
        self.feeder.start()
        self.watch.wait_until_deciding(timeout=180)
        # The backlog of the worker's start-up drained: faults hit a steady state.
        if not wait_until(lambda: (self.recent_latency() or 99) < 1.0, 180, interval_s=1):
            raise RuntimeError(f"the pipeline never caught up:\n{self.log_tail()}")

    def latencies(self) -> list[tuple[float, float]]:
        """(sent at, ingest->decision seconds) of each decided transaction, by first decision."""
        assert self.feeder is not None and self.watch is not None
        sent = self.feeder.stamps()
        decided: dict[str, int] = {}
        for tid, ms in self.watch.stamps():
            decided[tid] = min(ms, decided.get(tid, ms))
        return sorted((sent[t] / 1000, (decided[t] - sent[t]) / 1000) for t in decided if t in sent)

    def recent_latency(self, seconds: float = 3.0) -> float | None:
        """The median latency of the transactions decided in the last ``seconds``."""
        now = time.time()
        recent = [lat for at, lat in self.latencies() if at + lat >= now - seconds]
        return statistics.median(recent) if recent else None

    async def _subscribe(self) -> None:
        async with await AsyncConnection.connect(self.dsn, autocommit=True) as conn:
            await subscriptions.create(
                conn, self.receiver.url, ["decision.*"], SECRET, policy=LOCAL_POLICY
            )

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        with (self.root / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(  # noqa: S603 - our own programs
                argv, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def finish(self, timeout_s: float = 180) -> Outcome:
        """Stop the traffic, wait until every accepted transaction is in the ledger and its
        webhook event accepted (or ``timeout_s``), and say what came out."""
        assert self.feeder is not None and self.watch is not None
        self.feeder.stop()
        self.feeder.join()
        accepted = self.feeder.sent_ids()
        wait_until(
            lambda: (
                len(ledger_counts(self.dsn)) >= len(accepted)
                and len(self.receiver.accepted) >= len(accepted)
            ),
            timeout_s,
            interval_s=1,
        )
        time.sleep(2)  # a repeat still on its way would show now
        return Outcome(
            accepted, self.feeder.refused, ledger_counts(self.dsn), Counter(self.receiver.accepted)
        )

    def stop(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is None:
                try:
                    stop_gracefully(proc, 30)
                except subprocess.TimeoutExpired:
                    print(f"{name} did not stop in 30 s: killed")  # noqa: T201 - test output
        for thread in (self.feeder, self.watch):
            if thread is not None:
                thread.stop()

    def log_tail(self, chars: int = 2000) -> str:
        return "\n".join(
            f"--- {name}\n{(self.root / f'{name}.log').read_text(errors='replace')[-chars:]}"
            for name in self.procs
        )


def ledger_counts(dsn: str) -> Counter[str]:
    """Decisions in the ledger per transaction id."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT transaction_id, count(*) FROM decisions GROUP BY 1")
        return Counter({tid: n for tid, n in rows})


@dataclass(frozen=True)
class Outcome:
    """What the pipeline did with the accepted transactions."""

    accepted: set[str]
    refused: int
    ledger: Counter[str]
    webhooks: Counter[str]

    def lost(self) -> dict[str, int]:
        return {
            "accepted": len(self.accepted),
            "refused_by_the_producer": self.refused,
            "not_in_ledger": len(self.accepted - set(self.ledger)),
            "in_ledger_twice": sum(1 for n in self.ledger.values() if n > 1),
            "in_ledger_never_sent": len(set(self.ledger) - self.accepted),
            "webhook_events_missing": len(self.accepted) - len(self.webhooks),
            "webhook_events_accepted_twice": sum(1 for n in self.webhooks.values() if n > 1),
        }


@contextmanager
def pipeline_on_cluster(root: Path, rate: int, seconds: float) -> Iterator[Pipeline]:
    """A started 3-broker cluster and pipeline with ``seconds`` of traffic at ``rate``;
    everything stopped after."""
    with ExitStack() as stack:
        cluster = Cluster(root / "stack")
        stack.callback(cluster.stop)
        cluster.start()
        dsn = stack.enter_context(migrated_database())
        receiver = stack.enter_context(Receiver(SECRET))
        (root / "agents").mkdir(parents=True, exist_ok=True)
        pipeline = Pipeline(cluster, root, dsn, receiver, rate)
        stack.callback(pipeline.stop)
        pipeline.start(seconds)
        yield pipeline


# The steady state a fault's blip is compared with: the transactions sent in this many
# seconds before it (a run must let this long pass after catching up, see bench_brokers).
BEFORE_S = 20.0


def blip(pipeline: Pipeline, fault_at: float, fault_end: float) -> dict[str, float | None]:
    """Ingest->decision latency around a fault: p99 before it, p99 and max of transactions
    sent from the fault on, and the time to recover: from the fault until the last decision
    of a transaction slower than twice the p99 before (at least 0.25 s)."""
    points = pipeline.latencies()
    before = [lat for at, lat in points if fault_at - BEFORE_S <= at < fault_at]
    after = [(at, lat) for at, lat in points if at >= fault_at]
    base = p99(before)
    slow = max(2 * (base or 0), 0.25)
    late = [at + lat for at, lat in after if lat > slow]
    return {
        "p99_before_s": _r(base),
        "p99_from_fault_s": _r(p99([lat for at, lat in after if at <= fault_end + 30])),
        "max_from_fault_s": _r(max((lat for _, lat in after), default=None)),
        "time_to_recover_s": _r(max(late) - fault_at if late else 0.0),
        "slow_threshold_s": _r(slow),
    }


def p99(values: list[float]) -> float | None:
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=100)[98]


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
