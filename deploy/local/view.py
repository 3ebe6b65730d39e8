"""The live terminal view of `make up`: throughput, decision mix, latency, lag, rules, DECLINEs.

Reads the decisions topic from its end (no consumer group) and the committed offsets of
each stage's consumer group; it changes nothing, so it can be started and stopped freely.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field

from confluent_kafka import OFFSET_END, Consumer, TopicPartition
from rich.console import Group
from rich.live import Live
from rich.table import Table

from schemas.codec import decode_decision
from schemas.connections import KafkaConnection
from schemas.errors import SchemaError
from schemas.records import Decision
from schemas.topics import DECISIONS, TRANSACTIONS, WEBHOOKS

# stage -> (consumer group, the topic it consumes)
STAGES = {
    "agents": ("sentinel-agents", TRANSACTIONS.name),
    "ledger sink": ("ledger-sink", DECISIONS.name),
    "webhooks": ("webhook-dispatcher", WEBHOOKS.name),
}


@dataclass
class Window:
    """Decisions seen: the last minute for rates and latency, totals for the mix and rules."""

    seconds: float = 60.0
    seen: deque[tuple[float, Decision]] = field(default_factory=deque)
    outcomes: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    declines: deque[Decision] = field(default_factory=lambda: deque(maxlen=5))

    def add(self, decision: Decision, now: float) -> None:
        self.seen.append((now, decision))
        self.outcomes[decision.outcome.value] += 1
        for hit in decision.rules_fired:
            self.rules[f"{hit.rule_id[:8]} v{hit.version} {hit.action}"] += 1
        if decision.outcome.value == "DECLINE":
            self.declines.append(decision)
        while self.seen and now - self.seen[0][0] > self.seconds:
            self.seen.popleft()

    def rate(self, now: float, span: float = 5.0) -> float:
        return sum(1 for at, _ in self.seen if now - at <= span) / span

    def latency_ms(self) -> tuple[float, float, float]:
        waits = sorted(
            (d.decided_at - d.ingested_at).total_seconds() * 1000 for _at, d in self.seen
        )
        if not waits:
            return (0.0, 0.0, 0.0)
        return tuple(waits[min(len(waits) - 1, int(q * len(waits)))] for q in (0.5, 0.95, 0.99))  # type: ignore[return-value]


class LiveView:
    def __init__(self, kafka: KafkaConnection) -> None:
        self.prefix = kafka.topic_prefix
        self.bootstrap = kafka.bootstrap_servers
        self._readers: dict[str, Consumer] = {}
        self.consumer = Consumer(
            {
                "bootstrap.servers": kafka.bootstrap_servers,
                "group.id": f"view-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
            }
        )
        topic = f"{self.prefix}{DECISIONS.name}"
        parts = self.consumer.list_topics(topic, timeout=10).topics[topic].partitions
        self.consumer.assign([TopicPartition(topic, p, OFFSET_END) for p in parts])
        self.window = Window()

    def run(self, seconds: float | None = None) -> None:
        began = time.monotonic()
        with Live(self.render(), refresh_per_second=2, screen=False) as live:
            while seconds is None or time.monotonic() - began < seconds:
                self.poll(0.5)
                live.update(self.render())

    def poll(self, timeout: float) -> None:
        now = time.monotonic()
        for msg in self.consumer.consume(num_messages=5000, timeout=timeout):
            if msg.error() is None:
                try:
                    self.window.add(decode_decision(msg.value()), now)
                except SchemaError:
                    continue

    def render(self) -> Group:
        now = time.monotonic()
        p50, p95, p99 = self.window.latency_ms()
        head = Table(title="SentinelStream — live", show_header=True)
        for column in ("decisions/s", "APPROVE", "REVIEW", "DECLINE", "p50 ms", "p95 ms", "p99 ms"):
            head.add_column(column, justify="right")
        mix = self.window.outcomes
        head.add_row(
            f"{self.window.rate(now):.0f}",
            str(mix["APPROVE"]),
            str(mix["REVIEW"]),
            str(mix["DECLINE"]),
            f"{p50:.1f}",
            f"{p95:.1f}",
            f"{p99:.1f}",
        )
        return Group(head, self._lag(), self._rules(), self._declines())

    def _lag(self) -> Table:
        table = Table(title="consumer lag (records behind)")
        table.add_column("stage")
        table.add_column("lag", justify="right")
        for stage, (group, topic) in STAGES.items():
            table.add_row(stage, str(self.lag(f"{self.prefix}{group}", f"{self.prefix}{topic}")))
        return table

    def lag(self, group: str, topic: str) -> int | str:
        """Records of ``topic`` the ``group`` has not committed yet ("-" before it commits).

        Read with a consumer that names the group but never joins it (``committed``), not the
        admin API: on a brand-new cluster the admin call crashed the process in librdkafka.
        """
        try:
            reader = self._readers.get(group)
            if reader is None:
                reader = self._readers[group] = Consumer(
                    {
                        "bootstrap.servers": self.bootstrap,
                        "group.id": group,
                        "enable.auto.commit": False,
                    }
                )
            parts = reader.list_topics(topic, timeout=2).topics[topic].partitions
            committed = reader.committed([TopicPartition(topic, p) for p in parts], timeout=2)
            behind, any_commit = 0, False
            for tp in committed:
                if tp.offset < 0:
                    continue
                any_commit = True
                _low, high = reader.get_watermark_offsets(tp, timeout=2, cached=False)
                behind += max(0, high - tp.offset)
            return behind if any_commit else "-"
        except Exception:  # noqa: BLE001 - a view shows "?" rather than dying
            return "?"

    def _rules(self) -> Table:
        table = Table(title="top rules fired (since the view started)")
        table.add_column("rule")
        table.add_column("hits", justify="right")
        for rule, hits in self.window.rules.most_common(5):
            table.add_row(rule, str(hits))
        return table

    def _declines(self) -> Table:
        table = Table(title="latest DECLINEs")
        for column in ("transaction", "account", "amount", "score", "why"):
            table.add_column(column)
        for d in reversed(self.window.declines):
            why = ", ".join(
                [h.rule_id[:8] for h in d.rules_fired] + [r.feature for r in d.reason_codes]
            )
            table.add_row(
                d.transaction_id[:8],
                d.account_id,
                str(d.transaction.amount),
                f"{d.risk_score:.2f}",
                why,
            )
        return table
