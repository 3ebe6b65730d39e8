"""The live terminal view of `make up`: throughput, decision mix, latency, lag, rules, DECLINEs.

Reads the decisions topic from its end and the compacted rules topic from its start (rule
names), without joining a consumer group, and the committed offsets of each stage's
consumer group; it changes nothing, so it can be started and stopped freely. On a terminal
it redraws in place; otherwise (a pipe, a log, a test) it prints a summary line every
``REPORT_EVERY_S``, its tables when it stops, and a summary line last (``Window.summary``).
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Message, TopicPartition
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from deploy.local.view_window import OUTCOMES, RuleNames, Window
from schemas import kafka_edge
from schemas.codec import decode_decision, decode_rule
from schemas.connections import KafkaConnection
from schemas.errors import SchemaError
from schemas.stages import LagReader
from schemas.topics import DECISIONS, RULES

REPORT_EVERY_S = 10.0


class LiveView:
    def __init__(self, kafka: KafkaConnection) -> None:
        self.prefix = kafka.topic_prefix
        self.decisions_topic = f"{self.prefix}{DECISIONS.name}"
        self.rules_topic = f"{self.prefix}{RULES.name}"
        self.lags = LagReader(kafka)
        # A group id is required by librdkafka, but the view only assigns: it never joins
        # the group nor commits.
        self.consumer = kafka_edge.consumer(kafka, f"view-{uuid.uuid4().hex}")
        self.consumer.assign(
            self._partitions(self.decisions_topic, OFFSET_END)
            + self._partitions(self.rules_topic, OFFSET_BEGINNING)
        )
        self.window = Window()
        self.rule_names = RuleNames()

    def _partitions(self, topic: str, offset: int) -> list[TopicPartition]:
        metadata = self.consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return []  # not created yet (`sentinel topics apply`): nothing to follow
        return [TopicPartition(topic, p, offset) for p in metadata.partitions]

    def run(self, seconds: float | None = None, console: Console | None = None) -> None:
        """Show the figures until ``seconds`` pass (forever if None) or Ctrl-C."""
        if console is None:
            console = Console()
            if not console.is_terminal:  # 80 columns squeeze the figures' headings
                console = Console(width=max(console.width, 120))
        began = time.monotonic()

        def running() -> bool:
            return seconds is None or time.monotonic() - began < seconds

        try:
            if console.is_terminal:
                with Live(self.render(), console=console, refresh_per_second=2) as live:
                    while running():
                        self.poll(0.5)
                        live.update(self.render())
            else:
                reported = began
                while running():
                    self.poll(0.5)
                    if time.monotonic() - reported >= REPORT_EVERY_S:
                        reported = time.monotonic()
                        self._say(console, began)
                console.print(self.render())
        finally:
            if seconds is not None or not console.is_terminal:
                self._say(console, began)
            self.close()

    def _say(self, console: Console, began: float) -> None:
        line = self.window.summary(time.monotonic() - began)
        console.print(line, markup=False, highlight=False, soft_wrap=True)

    def close(self) -> None:
        self.consumer.close()
        self.lags.close()

    def poll(self, timeout: float) -> None:
        now = time.monotonic()
        for msg in self.consumer.consume(num_messages=5000, timeout=timeout):
            if msg.error() is None:
                self._apply(msg, now)

    def _apply(self, msg: Message, now: float) -> None:
        try:
            if msg.topic() == self.rules_topic:
                key = (msg.key() or b"").decode()
                value = msg.value()
                self.rule_names.apply(key, None if value is None else decode_rule(value))
            else:
                self.window.add(decode_decision(msg.value()), now)
        except (SchemaError, UnicodeDecodeError):
            return  # a record the view cannot read changes no figure

    def render(self) -> Group:
        now = time.monotonic()
        window = self.window
        p50, p95, p99 = window.latency_ms()
        head = Table(title="SentinelStream — live (mix, rules, latency: new decisions)")
        columns = ("decisions/s", "new/s", "redelivered/s", *OUTCOMES, "p50 ms", "p95 ms", "p99 ms")
        for column in columns:
            head.add_column(column, justify="right")
        rate, new = window.rate(now), window.new_rate(now)
        head.add_row(
            f"{rate:.0f}",
            f"{new:.0f}",
            f"{rate - new:.0f}",
            *(str(window.outcomes[outcome]) for outcome in OUTCOMES),
            f"{p50:.1f}",
            f"{p95:.1f}",
            f"{p99:.1f}",
        )
        return Group(
            head,
            self._lag(),
            rules_table(window, self.rule_names),
            declines_table(window, self.rule_names),
        )

    def _lag(self) -> Table:
        table = Table(title="consumer lag (records behind)")
        table.add_column("stage")
        table.add_column("lag", justify="right")
        for stage in self.lags.stages():
            table.add_row(stage.stage, stage.shown)
        return table


def rules_table(window: Window, names: RuleNames) -> Table:
    """The five rules that fired most, by name."""
    table = Table(title="top rules fired (new decisions since the view started)")
    for column in ("rule", "version", "action", "hits"):
        table.add_column(column, justify="right" if column in ("version", "hits") else "left")
    for (rule_id, version, action), hits in window.rules.most_common(5):
        table.add_row(names.label(rule_id), f"v{version}", action, str(hits))
    return table


def declines_table(window: Window, names: RuleNames) -> Table:
    """The latest DECLINEs, newest first, with the rules (by name) and reasons behind them."""
    table = Table(title="latest DECLINEs")
    for column in ("transaction", "account", "amount", "score", "why"):
        table.add_column(column)
    for d in reversed(window.declines):
        why = [names.label(h.rule_id) for h in d.rules_fired] + [r.feature for r in d.reason_codes]
        table.add_row(
            d.transaction_id[:8],
            d.account_id,
            str(d.transaction.amount),
            f"{d.risk_score:.2f}",
            ", ".join(why),
        )
    return table
