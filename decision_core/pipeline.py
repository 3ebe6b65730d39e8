"""One micro-batch of transactions in, decisions out: the agent's logic without Kafka.

The faust agent hands ``DecisionPipeline.process`` a batch of raw records and a view of its
feature table; it gets back the records to publish and the account states to write. Every
step is plain Python (decode, features, one model call for the batch, rules, policy), so
the same code runs under test, in replay and live. Each transaction's features are its
account's windowed features plus its merchant's risk (``features.merchant``: the values the
hourly job published, under the stamp policy there; zeros when none apply). The records it
takes and gives are ``records``; what it publishes per decision or bad record, ``outputs``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from decision_core.features import AccountFeatures, HomeProfile, StateDecodeError
from decision_core.features.merchant import MerchantValues, merchant_features
from decision_core.ledger_policy import (
    CONFLICTING_DUPLICATE,
    CURRENCY_MISMATCH,
    conflicting_fields,
    declined_for_currency,
    settle_currency,
)
from decision_core.live_models import shadow_scores
from decision_core.observer import SILENT, Observer
from decision_core.outputs import dead_letter, publishable, reply, reply_partition
from decision_core.records import BatchResult, Judge, Judgement, Screened, SourceRecord
from decision_core.scoring import LiveModels, ModelSource, exact_reasons
from decision_core.transaction_features import FEATURE_CONFIG, feature_event
from schemas.codec import decode_received, decode_transaction
from schemas.errors import SchemaError
from schemas.records import Decision, ReasonCode, Transaction, decision_id_for
from schemas.validation import DEFAULT_WINDOW, TimeWindow, transaction_problem


@dataclass(frozen=True, slots=True)
class _Item:
    screened: Screened
    features: dict[str, float]
    home_country: str | None
    # In another currency than the account's ledger: declined (``ledger_policy``).
    foreign_currency: bool = False


class DecisionPipeline:
    """Turns batches of transaction records into decisions, webhook events and dead letters."""

    def __init__(
        self,
        models: ModelSource,
        judge: Judge,
        profiles: Callable[[str], HomeProfile | None] = lambda _account: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        merchants: Callable[[str], MerchantValues | None] = lambda _merchant: None,
        observer: Observer = SILENT,
        window: TimeWindow = DEFAULT_WINDOW,
        reply_partitions: int = 0,
    ) -> None:
        self.models = models
        self.window = window  # the event-time window around each record's Kafka timestamp
        self.judge = judge
        self.profiles = profiles
        self.clock = clock
        self.merchants = merchants
        self.observer = observer  # the challenger's failures (the judge has its own)
        # The ``decision-replies`` topic's partitions: a decided record naming one of them
        # (``outputs.reply_partition``) gets its decision copied there. 0: no replies.
        self.reply_partitions = reply_partitions

    def process(
        self, records: Sequence[SourceRecord], load_state: Callable[[str], bytes | None]
    ) -> BatchResult:
        result = BatchResult()
        return self.process_screened(self.screen(records, result), load_state, result)

    def process_screened(
        self,
        screened: Sequence[Screened],
        load_state: Callable[[str], bytes | None],
        result: BatchResult,
        reused: Sequence[bool] = (),
    ) -> BatchResult:
        """``process`` past ``screen``: the agent claims the screened transaction ids in
        between (``stream_agents.txid_claims``). ``reused`` (in ``screened``'s order, or
        empty: none) marks those whose id another body claimed first: each is dead-lettered
        as a conflicting duplicate, nothing decided or published for it, no state touched.
        """
        accounts: dict[str, AccountFeatures] = {}
        partitions: dict[str, int] = {}
        if any(reused):  # as a rule none: the batch passes as it is
            screened = _refuse_reused(screened, reused, result)
        for item, decision in self._decide(screened, accounts, load_state, result):
            record = item.screened.record
            partitions[decision.account_id] = record.partition
            published = publishable(decision, item.screened.front)
            result.outgoing.extend(published)
            if record.headers and self.reply_partitions:  # as a rule no header: no reply
                to = reply_partition(record.headers, self.reply_partitions)
                if to is not None:
                    result.replies.append(reply(published[0], to))
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
        return self.decide_screened(self.screen(records, result), accounts, load_state, result)

    def decide_screened(
        self,
        screened: Sequence[Screened],
        accounts: dict[str, AccountFeatures],
        load_state: Callable[[str], bytes | None],
        result: BatchResult,
    ) -> list[tuple[SourceRecord, Decision]]:
        """``decide`` past ``screen``: replay places the screened records in between
        (``decision_core.placement``), as the agent does."""
        decided = self._decide(screened, accounts, load_state, result)
        return [(item.screened.record, decision) for item, decision in decided]

    def screen(self, records: Sequence[SourceRecord], result: BatchResult) -> list[Screened]:
        """Each record decoded and validated; the undecodable or invalid ones are
        dead-lettered into ``result``."""
        return [item for record in records if (item := self._screen(record, result)) is not None]

    def _decide(
        self,
        screened: Sequence[Screened],
        accounts: dict[str, AccountFeatures],
        load_state: Callable[[str], bytes | None],
        result: BatchResult,
    ) -> list[tuple[_Item, Decision]]:
        items = [
            item
            for one in screened
            if (item := self._observe(one, accounts, load_state, result)) is not None
        ]
        # Read once: a model swapped in meanwhile applies from the next batch on.
        live = self.models.live()
        rows = [item.features for item in items]
        model = live.champion
        assessment = model.assess(rows) if model else None
        scores: Sequence[float | None] = assessment.scores if assessment else [None] * len(rows)
        judgements = [
            _bounded(
                item,
                self.judge(
                    item.screened.tx, item.features, score, item.home_country, live.thresholds
                ),
            )
            for item, score in zip(items, scores, strict=True)
        ]
        reasons = assessment.reasons(exact_reasons(judgements)) if assessment else [()] * len(rows)
        shadow = shadow_scores(live.challenger, rows, self.observer)
        now = self.clock()
        result.decided += len(items)
        return [
            (item, self._decision(item, judgement, why, live, challenger_score, now))
            for item, judgement, why, challenger_score in zip(
                items, judgements, reasons, shadow, strict=True
            )
        ]

    def warm(
        self,
        records: Sequence[SourceRecord],
        accounts: dict[str, AccountFeatures],
        result: BatchResult,
        applied: Callable[[SourceRecord, str], bool] | None = None,
    ) -> None:
        """Apply records to the feature states without deciding them (replay's warm-up).

        The same decoding and validation as ``_observe``; a record the agent would
        dead-letter changes no state and is only counted. ``applied(record, account)``:
        whether the agents applied a valid record where it was read (replay's placement,
        ``decision_core.placement``); one they did not changes no state either.
        """
        for record in records:
            try:
                tx = decode_transaction(record.value)
            except SchemaError:
                result.dead_lettered += 1
                continue
            if invalid(tx, record.timestamp_ms, self.window) is not None:
                result.dead_lettered += 1
                continue
            if applied is not None and not applied(record, tx.account_id):
                continue
            state = accounts.get(tx.account_id)
            if state is None:
                state = accounts[tx.account_id] = AccountFeatures(FEATURE_CONFIG)
            if not apply_transaction(state, tx, record.partition, record.offset):
                result.dead_lettered += 1

    def _screen(self, record: SourceRecord, result: BatchResult) -> Screened | None:
        try:
            # Produced straight to Kafka, a transaction has no ingest time: the broker's
            # append time is its ingest time.
            tx, front = decode_received(record.value, _append_time(record.timestamp_ms))
        except SchemaError as exc:
            result.outgoing.append(dead_letter(record, getattr(exc, "code", "schema"), str(exc)))
            result.dead_lettered += 1
            return None
        problem = invalid(tx, record.timestamp_ms, self.window)
        if problem is not None:
            result.outgoing.append(dead_letter(record, "invalid_transaction", problem))
            result.dead_lettered += 1
            return None
        return Screened(record, tx, front)

    def _observe(
        self,
        screened: Screened,
        accounts: dict[str, AccountFeatures],
        load_state: Callable[[str], bytes | None],
        result: BatchResult,
    ) -> _Item | None:
        record, tx = screened.record, screened.tx
        state = accounts.get(tx.account_id)
        if state is None:
            state = accounts[tx.account_id] = _load(load_state(tx.account_id))
        event = feature_event(tx)
        conflict = conflicting_fields(state.state, event)
        if conflict:
            # A reused transaction id, not a redelivery: nothing is decided or published
            # for it, and the state is left as the first one made it.
            message = f"transaction id reused with a different {', '.join(conflict)}"
            result.outgoing.append(dead_letter(record, CONFLICTING_DUPLICATE, message))
            result.dead_lettered += 1
            return None
        foreign = not settle_currency(state.state, tx.currency)
        profile = self.profiles(tx.account_id)
        observation = state.observe_at(event, record.partition, record.offset, profile)
        home = observation.home_country  # the one the features used, from the same window
        features = observation.features  # a fresh dict per event: extended in place
        features.update(merchant_features(self.merchants(tx.merchant_id), event.ts_ms))
        return _Item(screened, features, home, foreign)

    def _decision(
        self,
        item: _Item,
        judgement: Judgement,
        reasons: tuple[ReasonCode, ...],
        live: LiveModels,
        challenger_score: float | None,
        now: datetime,
    ) -> Decision:
        tx = item.screened.tx
        challenger = live.challenger
        if item.foreign_currency:
            reasons = (CURRENCY_MISMATCH, *reasons)
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


def invalid(
    tx: Transaction, timestamp_ms: int = -1, window: TimeWindow = DEFAULT_WINDOW
) -> str | None:
    """Why a decodable transaction cannot be decided, or None.

    Gateways producing straight to Kafka skip the API's validation: the same checks
    (``schemas.validation``) run here, the event time bounded around the record's Kafka
    timestamp (``timestamp_ms``; a record without one, -1, is not bounded in time). Training
    and replay run the same checks, so what is dead-lettered here is in no state anywhere.
    """
    reference = _append_time(timestamp_ms) if timestamp_ms > 0 else None
    return transaction_problem(tx, reference, window)


def apply_transaction(state: AccountFeatures, tx: Transaction, partition: int, offset: int) -> bool:
    """What deciding ``tx`` (record ``partition``/``offset``) does to its account's state,
    without computing features: replay's warm-up, and any recomputation of the agents'
    states. False for a conflicting reuse of a transaction id, which changes nothing."""
    event = feature_event(tx)
    if conflicting_fields(state.state, event):
        return False
    settle_currency(state.state, tx.currency)
    state.apply_at(event, partition, offset)
    return True


def _refuse_reused(
    screened: Sequence[Screened], reused: Sequence[bool], result: BatchResult
) -> list[Screened]:
    """The screened records whose id is theirs; the others dead-lettered (no field values
    in the message: the body that claimed the id first may be another account's)."""
    kept = []
    for one, clash in zip(screened, reused, strict=True):
        if clash:
            message = "transaction id already claimed by a transaction with different content"
            result.outgoing.append(dead_letter(one.record, CONFLICTING_DUPLICATE, message))
            result.dead_lettered += 1
        else:
            kept.append(one)
    return kept


def _bounded(item: _Item, judgement: Judgement) -> Judgement:
    """The judgement the ledger can book (``ledger_policy``)."""
    return declined_for_currency(judgement) if item.foreign_currency else judgement


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
