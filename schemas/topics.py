"""Every Kafka topic SentinelStream uses, declared once: name, partitions, replication, config.

`sentinel topics apply` (in ``deploy.topics``) creates what is missing and reports drift;
services look names up here instead of spelling them. The agents' feature table changelog
is declared here too (``feature_changelog``), and the agents create it with the same config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

DAY_MS = 24 * 60 * 60 * 1000

# Kafka header on every decision record: the transaction it decides, readable without
# decoding the value (the API's authorize waiters skip decisions that are not theirs).
HEADER_TRANSACTION_ID = "transaction-id"
# Kafka header on a transaction record whose producer is waiting for its decision (the
# API's /v1/authorize; a gateway producing straight to Kafka may set it on its synchronous
# calls, any value): the agents close the micro-batch it joins without waiting for others to
# fill it (docs/adr/0012-awaited-transactions-close-their-batch.md).
HEADER_AWAITED = "awaited"
# Kafka header on an awaited transaction record: the partition of ``decision-replies`` its
# producer reads (ASCII digits). The agents publish a copy of its decision there, so an API
# process reads the decisions its own calls wait for instead of every decision of their
# accounts' partitions (docs/adr/0015-authorize-replies-to-a-partition-of-its-own.md).
HEADER_REPLY_TO = "reply-to"

# Production clusters keep three copies and refuse a write that fewer than two hold.
DEFAULT_REPLICATION_FACTOR = 3
DEFAULT_MIN_INSYNC_REPLICAS = 2


def fitted_replication(
    broker_count: int,
    replicas: int = DEFAULT_REPLICATION_FACTOR,
    min_insync: int = DEFAULT_MIN_INSYNC_REPLICAS,
) -> tuple[int, int]:
    """The replication factor and ``min.insync.replicas`` a cluster of ``broker_count``
    brokers can hold: at most one copy per broker, and a write refused only when fewer than
    ``min_insync`` copies (never all of them: one broker may always be down) take it.

    Three brokers keep 3 copies and refuse a write fewer than 2 hold; one broker keeps 1.
    The local stack's brokers use the same rule for Kafka's internal topics."""
    fitted = max(1, min(replicas, broker_count))
    return fitted, max(1, min(min_insync, fitted - 1))


def _config(**values: str) -> Mapping[str, str]:
    return MappingProxyType({key.replace("_", "."): value for key, value in values.items()})


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic as the project wants it on a production cluster."""

    name: str
    partitions: int
    description: str
    config: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    replication_factor: int = DEFAULT_REPLICATION_FACTOR

    def fit_to_cluster(self, broker_count: int) -> TopicSpec:
        """The spec a cluster of ``broker_count`` brokers can hold.

        A single-broker development cluster cannot keep three replicas, and a
        ``min.insync.replicas`` above the replica count would refuse every acks=all write.
        """
        config = dict(self.config)
        wanted = int(config.get("min.insync.replicas", DEFAULT_MIN_INSYNC_REPLICAS))
        replicas, min_isr = fitted_replication(broker_count, self.replication_factor, wanted)
        if "min.insync.replicas" in config:
            config["min.insync.replicas"] = str(min_isr)
        return replace(self, replication_factor=replicas, config=MappingProxyType(config))

    def prefixed(self, prefix: str) -> TopicSpec:
        return replace(self, name=f"{prefix}{self.name}") if prefix else self


def _durable(retention_days: int, **extra: str) -> Mapping[str, str]:
    return _config(
        retention_ms=str(retention_days * DAY_MS),
        min_insync_replicas=str(DEFAULT_MIN_INSYNC_REPLICAS),
        **extra,
    )


def _compacted(**extra: str) -> Mapping[str, str]:
    return _config(
        cleanup_policy="compact",
        min_insync_replicas=str(DEFAULT_MIN_INSYNC_REPLICAS),
        **extra,
    )


# Keyed by account id: one account's events stay in order on one partition, beside its
# feature state. Twelve partitions let up to twelve agent workers share the load.
TRANSACTIONS = TopicSpec(
    "transactions", 12, "card transactions from gateways, keyed by account id", _durable(90)
)
DECISIONS = TopicSpec(
    "decisions", 12, "one decision per transaction, keyed by account id", _durable(30)
)
# Copies of the awaited transactions' decisions, each on the partition its transaction's
# producer named (HEADER_REPLY_TO): an API process picks one and reads nothing else for
# /v1/authorize. Read within seconds or never: an hour's retention.
DECISION_REPLIES = TopicSpec(
    "decision-replies",
    12,
    "copies of awaited decisions, each on the partition its caller reads (reply-to header)",
    _config(retention_ms=str(60 * 60 * 1000), min_insync_replicas=str(DEFAULT_MIN_INSYNC_REPLICAS)),
)
WEBHOOKS = TopicSpec("webhooks", 6, "decision events for subscribers", _durable(7))
WEBHOOKS_RETRY = TopicSpec(
    "webhooks.retry", 6, "webhook deliveries waiting for their next attempt", _durable(7)
)
WEBHOOKS_DEAD_LETTER = TopicSpec(
    "webhooks.dead-letter", 3, "webhook deliveries that exhausted their retries", _durable(30)
)
RULES = TopicSpec("rules", 1, "current version of each rule, keyed by rule id", _compacted())
LISTS = TopicSpec("lists", 1, "named allow/deny lists, keyed by list name", _compacted())
ACCOUNTS = TopicSpec(
    "accounts", 12, "account profiles (home country, location), keyed by account id", _compacted()
)
# Keyed by role (MODEL_ROLES): the registry version each role plays. One partition keeps the
# announcements in the order they were made; compaction keeps the latest per role.
MODELS = TopicSpec(
    "models", 1, "the model versions announced as champion and challenger, keyed by role",
    _compacted(),
)  # fmt: skip
MODEL_ROLES = ("champion", "challenger")
LABELS = TopicSpec(
    "labels", 6, "fraud confirmations and chargebacks, keyed by account id", _durable(400)
)
# The analysts' verdicts on REVIEW decisions (the console's review queue), keyed by account
# id like the decisions they resolve: the reviews sink applies them to the ledger in order.
# Kept as long as the ledger's other evidence, the labels.
REVIEWS = TopicSpec(
    "reviews", 6, "analysts' resolutions of REVIEW decisions, keyed by account id", _durable(400)
)
# Rewritten whole every hour by `sentinel merchant-risk run`; every agent reads all of it.
MERCHANT_RISK = TopicSpec(
    "merchant-risk",
    6,
    "per-merchant risk features for the current hour, keyed by merchant id",
    _compacted(),
)
# Signed chain heads of the ledger (ledger_sink.heads), keyed by account id: compaction keeps
# each account's newest, which is all `sentinel ledger verify` needs. It lives outside the
# database on purpose: whoever can rewrite the ledger's rows cannot rewrite this.
LEDGER_HEADS = TopicSpec(
    "ledger-heads", 3, "signed ledger chain heads, keyed by account id", _compacted()
)
DEAD_LETTER = TopicSpec(
    "dead-letter",
    3,
    "records that could not be decoded, validated or placed (no key, keyed by another id), "
    "with the reason",
    _durable(30),
)
# `sentinel dlq redrive` marks each re-driven letter here, in the same Kafka transaction as
# the re-produced record, keyed by "<dead-letter topic>/<partition>:<offset>"; compacted,
# so the marks outlive the letters' retention and a letter is never re-driven twice.
DEAD_LETTER_REDRIVES = TopicSpec(
    "dead-letter.redrives",
    1,
    "which dead letters were re-driven, keyed by the letter's topic/partition:offset",
    _compacted(),
)

# The agents' feature table changelog (faust names it ``<app id>-<table>-changelog``): every
# transaction rewrites its account's state, so only compaction keeps it (and a restart's
# re-read) the size of the live state rather than of the history. The cleaner compacts rolled
# segments only: a segment rolls after 10 minutes or 8 MiB, whichever first, so the
# uncompacted tail a restart re-reads is at most that per partition (the broker's default,
# 1 GiB and 7 days, never rolled: nothing was ever compacted); a rolled tail is cleaned once
# it is a fifth of the partition (the default, half, lets the log reach twice the live
# state); no lag before a record may be compacted (recovery needs only the latest value of
# each key), declared so that a broker-wide default cannot delay it. Measured: bench_recovery.
AGENTS_APP_ID = "sentinel-agents"
FEATURE_TABLE = "account-features"
FEATURE_CHANGELOG_CONFIG = _compacted(
    segment_ms=str(10 * 60 * 1000),
    segment_bytes=str(8 * 1024 * 1024),
    min_cleanable_dirty_ratio="0.2",
    min_compaction_lag_ms="0",
)


def feature_changelog(app_id: str = AGENTS_APP_ID, partitions: int = 12) -> TopicSpec:
    """The feature table's changelog of the agents' app ``app_id`` (prefix not included);
    its partitions match ``transactions``'."""
    return TopicSpec(
        f"{app_id}-{FEATURE_TABLE}-changelog",
        partitions,
        "each account's feature state and each source partition's applied mark (agents)",
        FEATURE_CHANGELOG_CONFIG,
    )


FEATURE_CHANGELOG = feature_changelog(partitions=TRANSACTIONS.partitions)

ALL_TOPICS: tuple[TopicSpec, ...] = (
    TRANSACTIONS,
    DECISIONS,
    DECISION_REPLIES,
    WEBHOOKS,
    WEBHOOKS_RETRY,
    WEBHOOKS_DEAD_LETTER,
    RULES,
    LISTS,
    ACCOUNTS,
    LABELS,
    REVIEWS,
    MERCHANT_RISK,
    LEDGER_HEADS,
    DEAD_LETTER,
    DEAD_LETTER_REDRIVES,
    MODELS,
    FEATURE_CHANGELOG,
)


def declared_topics(prefix: str = "") -> tuple[TopicSpec, ...]:
    """All declared topics, their names carrying ``prefix``."""
    return tuple(spec.prefixed(prefix) for spec in ALL_TOPICS)
