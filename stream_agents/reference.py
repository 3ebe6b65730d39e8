"""Reference data every worker holds whole: rules, named lists, account profiles and
merchant risk.

A background thread follows the compacted ``rules``, ``lists``, ``accounts`` and
``merchant-risk`` topics from the beginning, without a consumer group, so every worker
process sees every record whichever partitions it owns. Each change builds a new immutable
RuleSet or ListSet and swaps it in; the agent reads the current one per batch, so a rule
published by the admin API applies to the next micro-batch (well within a second) without
a restart. Merchant risk is held as the job last published it; the pipeline applies the
stamp policy (``features.merchant.applies``) per transaction.
``TopicFollower`` is the thread itself; the ``models`` topic is followed the same way
(``stream_agents.live_models``).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, TopicPartition

from rule_engine import EMPTY_LISTS, ListSet, NamedList, RuleSet, RuleSpec
from schemas.codec import (
    decode_account_profile,
    decode_merchant_risk,
    decode_named_list,
    decode_rule,
)
from schemas.connections import KafkaConnection
from schemas.errors import SchemaError
from schemas.topics import ACCOUNTS, LISTS, MERCHANT_RISK, RULES
from stream_agents.features import HomeProfile
from stream_agents.features.merchant import HOUR_MS, MerchantValues
from stream_agents.metrics import REFERENCE_RECORDS, RULES_LOADED, RULES_REJECTED

log = logging.getLogger("stream_agents.reference")


class ReferenceData:
    """The current rules, lists and profiles, updated in place by ``ReferenceFollower``."""

    def __init__(self, rules: RuleSet | None = None, lists: ListSet = EMPTY_LISTS) -> None:
        self.rules = rules if rules is not None else RuleSet.empty()
        self.lists = lists
        self.profiles: dict[str, HomeProfile] = {}
        self.merchants: dict[str, MerchantValues] = {}

    def profile(self, account_id: str) -> HomeProfile | None:
        return self.profiles.get(account_id)

    def merchant_risk(self, merchant_id: str) -> MerchantValues | None:
        return self.merchants.get(merchant_id)

    def apply(self, role: str, key: bytes | None, value: bytes | None) -> None:
        """Apply one record of a reference topic (a None value deletes its key)."""
        name = (key or b"").decode()
        if role == "rules":
            self._apply_rule(name, value)
        elif role == "lists":
            self.lists = (
                self.lists.without(name)
                if value is None
                else self.lists.with_list(_named_list(value))
            )
        elif role == "merchant-risk":
            self._apply_merchant(name, value)
        elif value is None:
            self.profiles.pop(name, None)
        else:
            p = decode_account_profile(value)
            self.profiles[p.account_id] = HomeProfile(p.home_country, p.home_lat, p.home_lon)

    def _apply_rule(self, rule_id: str, value: bytes | None) -> None:
        if value is None:
            self.rules = self.rules.without(rule_id)
        else:
            spec = RuleSpec.from_record(decode_rule(value))
            self.rules = self.rules.with_rule(spec)
            if spec.rule_id in self.rules.rejected:
                RULES_REJECTED.inc()
                log.warning("rule %s v%s does not compile; not run", spec.rule_id, spec.version)
        RULES_LOADED.set(len(self.rules))

    def _apply_merchant(self, merchant_id: str, value: bytes | None) -> None:
        # A tombstone is the job's way of saying "all zeros now".
        if value is None:
            self.merchants.pop(merchant_id, None)
            return
        r = decode_merchant_risk(value)
        hour = int(r.hour.timestamp() * 1000) // HOUR_MS
        values = (r.tx_1d, r.risk_1d, r.tx_7d, r.risk_7d, r.tx_30d, r.risk_30d)
        self.merchants[r.merchant_id] = MerchantValues(hour, tuple(float(v) for v in values))


def _named_list(value: bytes) -> NamedList:
    record = decode_named_list(value)
    return NamedList.of(record.name, record.kind, record.values)


class TopicFollower:
    """Consumes compacted topics whole, from the beginning, in a daemon thread.

    ``apply(role, key, value)`` runs in that thread for every record; a record it cannot use
    (SchemaError, ValueError) is logged and skipped, and the thread goes on.
    """

    def __init__(
        self,
        kafka: KafkaConnection,
        roles: Mapping[str, str],
        apply: Callable[[str, bytes | None, bytes | None], None],
        name: str = "reference",
    ) -> None:
        self.roles = dict(roles)  # topic name -> role
        self._apply_record = apply
        self.caught_up = threading.Event()
        self._stop = threading.Event()
        self._consumer = Consumer(
            {
                "bootstrap.servers": kafka.bootstrap_servers,
                # Required by the client; never joined, partitions are assigned directly.
                "group.id": f"sentinel-{name}-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 50,
            }
        )
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)

    def start(self, timeout_s: float = 60.0) -> bool:
        """Start following; True once everything published before now has been applied,
        False after ``timeout_s`` or as soon as the thread has died (a missing topic)."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.caught_up.wait(min(0.5, max(0.0, deadline - time.monotonic()))):
            if not self._thread.is_alive() or time.monotonic() >= deadline:
                return False
        return True

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        try:
            remaining = self._assign()
            while not self._stop.is_set():
                for msg in self._consumer.consume(num_messages=500, timeout=0.1):
                    if msg.error() is None:
                        self._apply(msg)
                        _mark(remaining, msg)
                if not remaining:
                    self.caught_up.set()
        finally:
            self._consumer.close()

    def _assign(self) -> dict[tuple[str, int], int]:
        """Assign every partition from the start; return the end offsets still to reach."""
        metadata = self._consumer.list_topics(timeout=30).topics
        parts, remaining = [], {}
        for topic in self.roles:
            if topic not in metadata:
                log.error("topic %s does not exist: run `sentinel topics apply`", topic)
                raise RuntimeError(f"topic {topic} does not exist")
            for partition in metadata[topic].partitions:
                parts.append(TopicPartition(topic, partition, OFFSET_BEGINNING))
                high = self._end_offset(TopicPartition(topic, partition))
                if high > 0:
                    remaining[(topic, partition)] = high
        self._consumer.assign(parts)
        return remaining

    def _end_offset(self, partition: TopicPartition, timeout_s: float = 30.0) -> int:
        # A topic created a moment ago may have no leader yet (NOT_LEADER_FOR_PARTITION):
        # retry until the timeout rather than let the thread die on a transient error.
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return int(self._consumer.get_watermark_offsets(partition, timeout=5)[1])
            except KafkaException:
                if time.monotonic() >= deadline or self._stop.is_set():
                    raise
                time.sleep(0.2)

    def _apply(self, msg: Message) -> None:
        role = self.roles[msg.topic() or ""]
        try:
            self._apply_record(role, msg.key(), msg.value())
        except (SchemaError, ValueError) as exc:
            log.warning("skipping bad %s record at offset %s: %s", role, msg.offset(), exc)
        REFERENCE_RECORDS.labels(role).inc()


class ReferenceFollower(TopicFollower):
    """Follows the rules, lists, accounts and merchant-risk topics into a ReferenceData."""

    def __init__(self, kafka: KafkaConnection, data: ReferenceData) -> None:
        prefix = kafka.topic_prefix
        roles = {
            f"{prefix}{RULES.name}": "rules",
            f"{prefix}{LISTS.name}": "lists",
            f"{prefix}{ACCOUNTS.name}": "accounts",
            f"{prefix}{MERCHANT_RISK.name}": "merchant-risk",
        }
        super().__init__(kafka, roles, data.apply, "reference")
        self.data = data


def _mark(remaining: dict[tuple[str, int], int], msg: Message) -> None:
    key = (msg.topic() or "", msg.partition() or 0)
    if key in remaining and (msg.offset() or 0) + 1 >= remaining[key]:
        del remaining[key]
