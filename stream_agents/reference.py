"""Reference data every worker holds whole: rules, named lists, account profiles and
merchant risk.

A background thread follows the compacted ``rules``, ``lists``, ``accounts`` and
``merchant-risk`` topics from the beginning, without a consumer group, so every worker
process sees every record whichever partitions it owns. Each change builds a new immutable
RuleSet or ListSet and swaps it in; the agent reads the current one per batch, so a rule
published by the admin API applies to the next micro-batch (well within a second) without
a restart. Merchant risk is held as the job last published it; the pipeline applies the
stamp policy (``features.merchant.applies``) per transaction.
"""

from __future__ import annotations

import logging
import threading
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition

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


class ReferenceFollower:
    """Consumes the reference topics into a ReferenceData in a daemon thread."""

    def __init__(self, kafka: KafkaConnection, data: ReferenceData) -> None:
        prefix = kafka.topic_prefix
        self.roles = {
            f"{prefix}{RULES.name}": "rules",
            f"{prefix}{LISTS.name}": "lists",
            f"{prefix}{ACCOUNTS.name}": "accounts",
            f"{prefix}{MERCHANT_RISK.name}": "merchant-risk",
        }
        self.data = data
        self.caught_up = threading.Event()
        self._stop = threading.Event()
        self._consumer = Consumer(
            {
                "bootstrap.servers": kafka.bootstrap_servers,
                # Required by the client; never joined, partitions are assigned directly.
                "group.id": f"sentinel-reference-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 50,
            }
        )
        self._thread = threading.Thread(target=self._serve, name="reference", daemon=True)

    def start(self, timeout_s: float = 60.0) -> bool:
        """Start following; True once everything published before now has been applied."""
        self._thread.start()
        return self.caught_up.wait(timeout_s)

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
            for partition in metadata[topic].partitions:
                parts.append(TopicPartition(topic, partition, OFFSET_BEGINNING))
                _low, high = self._consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=30
                )
                if high > 0:
                    remaining[(topic, partition)] = high
        self._consumer.assign(parts)
        return remaining

    def _apply(self, msg: Message) -> None:
        role = self.roles[msg.topic() or ""]
        try:
            self.data.apply(role, msg.key(), msg.value())
        except (SchemaError, ValueError) as exc:
            log.warning("skipping bad %s record at offset %s: %s", role, msg.offset(), exc)
        REFERENCE_RECORDS.labels(role).inc()


def _mark(remaining: dict[tuple[str, int], int], msg: Message) -> None:
    key = (msg.topic() or "", msg.partition() or 0)
    if key in remaining and (msg.offset() or 0) + 1 >= remaining[key]:
        del remaining[key]
