"""Records in and out of the pipeline: source records, outgoing records, judgements, results."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rule_engine import Thresholds
from schemas.codec import Buffer
from schemas.enums import Outcome
from schemas.records import RuleHit, Transaction


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """A record of the transactions topic as the consumer delivered it."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    # Kept for dead letters: a re-driven record's link to the letter it came from
    # (``sentinel dlq redrive``) must survive it failing again.
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class Screened:
    """A source record that decoded into a valid transaction: one to claim and decide."""

    record: SourceRecord
    tx: Transaction
    # The record's Avro bytes its decision may carry as they are
    # (``schemas.codec.decode_received``); None: the decision encodes the transaction whole.
    front: Buffer | None = None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A record to publish: ``role`` names the destination topic (decisions, webhooks, ...)."""

    role: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()
    # None: the producer's partitioner (by key); set for the feature table's changelog,
    # whose partition must be the source record's, and for a record sent to its home
    # partition (``decision_core.placement``).
    partition: int | None = None
    # None: the producer's clock; set for a forwarded record, which keeps the original's.
    timestamp_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Judgement:
    """What the rules and the policy made of one scored transaction."""

    outcome: Outcome
    risk_score: float
    rules_fired: tuple[RuleHit, ...] = ()
    shadow_rules_fired: tuple[RuleHit, ...] = ()
    # The risk score reached a threshold (review_at or decline_at): the model is among the
    # reasons for the outcome, not only the rules (``decision_core.scoring.exact_reasons``).
    score_flagged: bool = False


# (transaction, features, model score or None, home country, the champion's thresholds or
# None for the judge's own) -> judgement
Judge = Callable[
    [Transaction, Mapping[str, float], float | None, str | None, Thresholds | None], Judgement
]


@dataclass
class BatchResult:
    outgoing: list[Outgoing] = field(default_factory=list)
    # Copies of awaited decisions for the partitions their callers read (published after
    # ``outgoing``: a caller is answered only with a decision the broker holds).
    replies: list[Outgoing] = field(default_factory=list)
    # account id -> (source partition, encoded feature state)
    states: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    decided: int = 0
    dead_lettered: int = 0
