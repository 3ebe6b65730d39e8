"""One micro-batch of transactions in, decisions out: the agent's logic without Kafka.

The faust agent hands ``DecisionPipeline.process`` a batch of raw records and a view of its
feature table; it gets back the records to publish and the account states to write. Every
step is plain Python (decode, features, one model call for the batch, rules, policy), so
the same code runs under test, in replay and live. Each transaction's features are its
account's windowed features plus its merchant's risk (``features.merchant``: the values the
hourly job published, under the stamp policy there; zeros when none apply).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from rule_engine import Thresholds
from schemas.codec import (
    decode_transaction,
    encode_dead_letter,
    encode_decision,
    encode_webhook_event,
)
from schemas.enums import Outcome
from schemas.errors import SchemaError
from schemas.pan import contains_pan
from schemas.records import (
    DeadLetter,
    Decision,
    ReasonCode,
    RuleHit,
    Transaction,
    WebhookEvent,
    decision_id_for,
    webhook_event_id_for,
)
from schemas.topics import HEADER_TRANSACTION_ID
from stream_agents.features import AccountFeatures, HomeProfile, StateDecodeError
from stream_agents.features.merchant import MerchantValues, merchant_features
from stream_agents.live_models import shadow_scores
from stream_agents.scoring import LiveModels, ModelSource
from stream_agents.transaction_features import FEATURE_CONFIG, feature_event


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
class Outgoing:
    """A record to publish: ``role`` names the destination topic (decisions, webhooks, ...)."""

    role: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()
    # None: the producer's partitioner (by key); set for the feature table's changelog,
    # whose partition must be the source record's.
    partition: int | None = None
    # The partition of the source record it answers: under exactly-once it is produced in
    # that partition's transaction (``stream_agents.transactional``).
    source_partition: int | None = None


@dataclass(frozen=True, slots=True)
class Judgement:
    """What the rules and the policy made of one scored transaction."""

    outcome: Outcome
    risk_score: float
    rules_fired: tuple[RuleHit, ...] = ()
    shadow_rules_fired: tuple[RuleHit, ...] = ()


# (transaction, features, model score or None, home country, the champion's thresholds or
# None for the judge's own) -> judgement
Judge = Callable[
    [Transaction, Mapping[str, float], float | None, str | None, Thresholds | None], Judgement
]


@dataclass
class BatchResult:
    outgoing: list[Outgoing] = field(default_factory=list)
    # account id -> (source partition, encoded feature state)
    states: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    decided: int = 0
    dead_lettered: int = 0


@dataclass(frozen=True, slots=True)
class _Item:
    record: SourceRecord
    tx: Transaction
    features: dict[str, float]
    home_country: str | None


class DecisionPipeline:
    """Turns batches of transaction records into decisions, webhook events and dead letters."""

    def __init__(
        self,
        models: ModelSource,
        judge: Judge,
        profiles: Callable[[str], HomeProfile | None] = lambda _account: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        merchants: Callable[[str], MerchantValues | None] = lambda _merchant: None,
    ) -> None:
        self.models = models
        self.judge = judge
        self.profiles = profiles
        self.clock = clock
        self.merchants = merchants

    def process(
        self, records: Sequence[SourceRecord], load_state: Callable[[str], bytes | None]
    ) -> BatchResult:
        result = BatchResult()
        accounts: dict[str, AccountFeatures] = {}
        partitions: dict[str, int] = {}
        for record, decision in self.decide(records, accounts, load_state, result):
            partitions[decision.account_id] = record.partition
            result.outgoing.extend(publishable(decision, record.partition))
        # Each touched account is written once per batch, not once per event.
        result.states = {
            account: (partitions[account], state.to_bytes())
            for account, state in accounts.items()
            if account in partitions
        }
        return result

    def decide(
        self,
        records: Sequence[SourceRecord],
        accounts: dict[str, AccountFeatures],
        load_state: Callable[[str], bytes | None],
        result: BatchResult,
    ) -> list[tuple[SourceRecord, Decision]]:
        """Decide a batch into Decision objects, not encoded (replay reads them as they are).

        ``accounts`` holds the feature states in use; an account missing from it is loaded
        with ``load_state``. Dead letters go to ``result.outgoing``.
        """
        items = [
            item
            for record in records
            if (item := self._observe(record, accounts, load_state, result)) is not None
        ]
        # Read once: a model swapped in meanwhile applies from the next batch on.
        live = self.models.live()
        rows = [item.features for item in items]
        model = live.champion
        assessment = model.assess(rows) if model else None
        scores: Sequence[float | None] = assessment.scores if assessment else [None] * len(rows)
        judgements = [
            self.judge(item.tx, item.features, score, item.home_country, live.thresholds)
            for item, score in zip(items, scores, strict=True)
        ]
        # Exact TreeSHAP where the reasons stop a payment (REVIEW, DECLINE): they are read
        # by analysts and cardholders. Approvals, nearly all traffic, get the approximation:
        # exact for every row would cost ~1 ms each with training's default model.
        reasons = (
            assessment.reasons([j.outcome is not Outcome.APPROVE for j in judgements])
            if assessment
            else [()] * len(rows)
        )
        shadow = shadow_scores(live.challenger, rows)
        now = self.clock()
        result.decided += len(items)
        return [
            (item.record, self._decision(item, judgement, why, live, challenger_score, now))
            for item, judgement, why, challenger_score in zip(
                items, judgements, reasons, shadow, strict=True
            )
        ]

    def warm(
        self,
        records: Sequence[SourceRecord],
        accounts: dict[str, AccountFeatures],
        result: BatchResult,
    ) -> None:
        """Apply records to the feature states without deciding them (replay's warm-up).

        The same decoding and validation as ``_observe``; a record the agent would
        dead-letter changes no state and is only counted.
        """
        for record in records:
            try:
                tx = decode_transaction(record.value)
            except SchemaError:
                result.dead_lettered += 1
                continue
            if invalid(tx) is not None:
                result.dead_lettered += 1
                continue
            state = accounts.get(tx.account_id)
            if state is None:
                state = accounts[tx.account_id] = AccountFeatures(FEATURE_CONFIG)
            state.apply_at(feature_event(tx), record.partition, record.offset)

    def _observe(
        self,
        record: SourceRecord,
        accounts: dict[str, AccountFeatures],
        load_state: Callable[[str], bytes | None],
        result: BatchResult,
    ) -> _Item | None:
        try:
            # Produced straight to Kafka, a transaction has no ingest time: the broker's
            # append time is its ingest time.
            tx = decode_transaction(record.value, ingested_at=_append_time(record.timestamp_ms))
        except SchemaError as exc:
            result.outgoing.append(dead_letter(record, getattr(exc, "code", "schema"), str(exc)))
            result.dead_lettered += 1
            return None
        problem = invalid(tx)
        if problem is not None:
            result.outgoing.append(dead_letter(record, "invalid_transaction", problem))
            result.dead_lettered += 1
            return None
        state = accounts.get(tx.account_id)
        if state is None:
            state = accounts[tx.account_id] = _load(load_state(tx.account_id))
        profile = self.profiles(tx.account_id)
        event = feature_event(tx)
        observation = state.observe_at(event, record.partition, record.offset, profile)
        home = observation.home_country  # the one the features used, from the same window
        features = observation.features  # a fresh dict per event: extended in place
        features.update(merchant_features(self.merchants(tx.merchant_id), event.ts_ms))
        return _Item(record, tx, features, home)

    def _decision(
        self,
        item: _Item,
        judgement: Judgement,
        reasons: tuple[ReasonCode, ...],
        live: LiveModels,
        challenger_score: float | None,
        now: datetime,
    ) -> Decision:
        tx = item.tx
        challenger = live.challenger
        return Decision(
            decision_id=decision_id_for(tx.transaction_id),
            transaction_id=tx.transaction_id,
            account_id=tx.account_id,
            outcome=judgement.outcome,
            risk_score=judgement.risk_score,
            model_version=live.champion.version if live.champion else None,
            challenger_model_version=challenger.version if challenger else None,
            challenger_score=challenger_score,
            rules_fired=judgement.rules_fired,
            shadow_rules_fired=judgement.shadow_rules_fired,
            reason_codes=reasons,
            features=_finite(item.features),
            ingested_at=tx.ingested_at or now,
            decided_at=now,
            transaction=tx,
        )


def decision_record(decision: Decision, source_partition: int | None = None) -> Outgoing:
    """A decision as the decisions topic carries it: keyed by account, its transaction id in a
    header."""
    headers = ((HEADER_TRANSACTION_ID, decision.transaction_id.encode()),)
    return Outgoing(
        "decisions",
        decision.account_id.encode(),
        encode_decision(decision),
        headers,
        source_partition=source_partition,
    )


def publishable(decision: Decision, source_partition: int | None = None) -> list[Outgoing]:
    """The records the agent publishes for one decision: the decision and its webhook event,
    both answering the record of ``source_partition``."""
    record = decision_record(decision, source_partition)
    event = encode_webhook_event(webhook_event(decision))
    webhook = Outgoing(
        "webhooks", record.key, event, record.headers, source_partition=source_partition
    )
    return [record, webhook]


def invalid(tx: Transaction) -> str | None:
    """Why a decodable transaction cannot be decided, or None.

    Gateways producing straight to Kafka skip the API's validation; these are the rules
    whose breach would poison the features or the ledger.
    """
    if tx.amount <= 0:
        return f"amount must be positive, got {tx.amount}"
    if contains_pan(tx.card_token):
        return "card_token looks like a card number (PAN)"
    if not tx.account_id or not tx.merchant_id:
        return "account_id and merchant_id are required"
    if not tx.account_id.isprintable():
        # Also keeps account ids clear of the feature table's internal keys (``continuity``).
        return "account_id must not contain control characters"
    return None


def _load(data: bytes | None) -> AccountFeatures:
    if data is None:
        return AccountFeatures(FEATURE_CONFIG)
    try:
        return AccountFeatures.from_bytes(data, FEATURE_CONFIG)
    except StateDecodeError:
        # A state written by an incompatible version: start the account afresh rather than
        # stall its partition; the changelog keeps the old bytes for investigation.
        return AccountFeatures(FEATURE_CONFIG)


def _append_time(timestamp_ms: int) -> datetime:
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC)


def _finite(features: Mapping[str, float]) -> dict[str, float]:
    """Avro and JSON carry no NaN: an unknown feature is left out of the recorded values."""
    return {name: value for name, value in features.items() if value == value}


EVENT_TYPES = {
    Outcome.APPROVE: "decision.approved",
    Outcome.REVIEW: "decision.review",
    Outcome.DECLINE: "decision.declined",
}


def webhook_event(decision: Decision) -> WebhookEvent:
    event_type = EVENT_TYPES[decision.outcome]
    payload = {
        "decision_id": decision.decision_id,
        "transaction_id": decision.transaction_id,
        "account_id": decision.account_id,
        "outcome": decision.outcome.value,
        "risk_score": decision.risk_score,
        "amount": str(decision.transaction.amount),
        "currency": decision.transaction.currency,
        "rules_fired": [hit.rule_id for hit in decision.rules_fired],
        "reasons": [_reason(r) for r in decision.reason_codes],
        "decided_at": decision.decided_at.isoformat(),
    }
    return WebhookEvent(
        event_id=webhook_event_id_for(decision.decision_id, event_type),
        event_type=event_type,
        created_at=decision.decided_at,
        account_id=decision.account_id,
        transaction_id=decision.transaction_id,
        payload_json=orjson.dumps(payload).decode(),
    )


def _reason(reason: ReasonCode) -> dict[str, float | str]:
    return {"feature": reason.feature, "value": reason.value, "contribution": reason.contribution}


def dead_letter(record: SourceRecord, code: str, message: str) -> Outgoing:
    letter = DeadLetter(
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value or b"",
        error_code=code,
        error_message=message[:2000],
        failed_at=datetime.now(UTC),
        headers={name: raw.decode("utf-8", "replace") for name, raw in record.headers},
    )
    return Outgoing(
        "dead-letter",
        record.key or b"",
        encode_dead_letter(letter),
        source_partition=record.partition,
    )
