"""The decision pipeline on real records, without Kafka: features, score, policy, outputs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from decision_core.features import AccountFeatures
from decision_core.judge import RulesJudge
from decision_core.live_models import ModelBook
from decision_core.outputs import REPLIES, reply_partition
from decision_core.pipeline import DecisionPipeline
from decision_core.records import BatchResult, SourceRecord
from decision_core.reference import ReferenceData
from decision_core.scoring import ModelRegistry
from decision_core.thresholds import ThresholdOverrides
from decision_core.transaction_features import FEATURE_CONFIG
from rule_engine import Thresholds
from schemas.codec import (
    decode_dead_letter,
    decode_decision,
    decode_webhook_event,
    encode_decision,
    encode_rule,
    encode_transaction,
)
from schemas.enums import Channel, Outcome, TxType
from schemas.records import ReasonCode, Transaction, decision_id_for
from schemas.topics import HEADER_AWAITED, HEADER_REPLY_TO, HEADER_TRANSACTION_ID
from tests.support.models import train_tiny_model
from tests.support.records import rule

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def tx(
    account: str = "acct-1", amount: str = "25.00", minutes: int = 0, **changes: object
) -> Transaction:
    fields: dict[str, object] = {
        "transaction_id": str(uuid.uuid4()),
        "account_id": account,
        "card_token": "tok_abcdefgh",
        "amount": Decimal(amount),
        "currency": "INR",
        "merchant_id": "m-1",
        "country": "IN",
        "channel": Channel.POS,
        "timestamp": T0 + timedelta(minutes=minutes),
        "type": TxType.DEBIT,
        "ingested_at": T0 + timedelta(minutes=minutes),
    }
    fields.update(changes)
    return Transaction(**fields)  # type: ignore[arg-type]


def records(*txs: Transaction, partition: int = 3, first_offset: int = 100) -> list[SourceRecord]:
    return [
        SourceRecord(
            "transactions",
            partition,
            first_offset + i,
            0,
            t.account_id.encode(),
            encode_transaction(t),
        )
        for i, t in enumerate(txs)
    ]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    train_tiny_model(root)
    return root


@pytest.fixture
def pipeline(registry: Path) -> DecisionPipeline:
    return DecisionPipeline(
        ModelRegistry(registry), RulesJudge(ReferenceData(), Thresholds(0.5, 0.9)), clock=lambda: T0
    )


def store() -> tuple[dict[str, bytes], Callable[[str], bytes | None]]:
    states: dict[str, bytes] = {}
    return states, states.get


def test_each_transaction_gets_one_decision_and_one_webhook_event(
    pipeline: DecisionPipeline,
) -> None:
    batch = [tx(minutes=i) for i in range(3)]
    result = pipeline.process(records(*batch), store()[1])
    decisions = [decode_decision(o.value) for o in result.outgoing if o.role == "decisions"]
    events = [decode_webhook_event(o.value) for o in result.outgoing if o.role == "webhooks"]
    assert [d.transaction_id for d in decisions] == [t.transaction_id for t in batch]
    assert all(d.decision_id == decision_id_for(d.transaction_id) for d in decisions)
    assert [e.event_type for e in events] == ["decision.approved"] * 3
    assert all(o.key == b"acct-1" for o in result.outgoing)
    assert all(dict(o.headers)[HEADER_TRANSACTION_ID] for o in result.outgoing)
    assert decisions[2].features["count_1h"] == 3.0
    assert decisions[0].model_version == "tiny-1"


def test_an_awaited_transaction_naming_a_reply_partition_gets_its_decision_copied_there(
    registry: Path,
) -> None:
    pipeline = DecisionPipeline(
        ModelRegistry(registry),
        RulesJudge(ReferenceData(), Thresholds(0.5, 0.9)),
        clock=lambda: T0,
        reply_partitions=12,
    )
    named, unnamed, wrong = (tx(minutes=i) for i in range(3))
    batch = records(named, unnamed, wrong)
    awaited = (HEADER_AWAITED, b"1")
    batch[0] = replace(batch[0], headers=(awaited, (HEADER_REPLY_TO, b"7")))
    batch[1] = replace(batch[1], headers=(awaited,))  # no reply asked for
    batch[2] = replace(batch[2], headers=(awaited, (HEADER_REPLY_TO, b"12")))  # no such one
    result = pipeline.process(batch, store()[1])
    [copy] = result.replies
    decided = next(o for o in result.outgoing if o.role == "decisions")
    assert (copy.role, copy.partition) == (REPLIES, 7)
    assert (copy.key, copy.value, copy.headers) == (decided.key, decided.value, decided.headers)
    assert decode_decision(copy.value).transaction_id == named.transaction_id
    # Every one decided and published as always, the reply beside it.
    assert sum(o.role == "decisions" for o in result.outgoing) == 3


def test_a_pipeline_without_reply_partitions_copies_nothing(pipeline: DecisionPipeline) -> None:
    batch = [replace(r, headers=((HEADER_REPLY_TO, b"0"),)) for r in records(tx())]
    assert pipeline.process(batch, store()[1]).replies == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [(b"0", 0), (b"11", 11), (b"12", None), (b"-1", None), (b"x", None), (b"", None),
     (b" 3", None), (b"99999999999999999999", None)],
)  # fmt: skip
def test_a_reply_partition_is_one_the_topic_has_or_none(value: bytes, expected: int | None) -> None:
    assert reply_partition((("other", b"5"), (HEADER_REPLY_TO, value)), 12) == expected
    assert reply_partition((("other", b"5"),), 12) is None


def test_a_large_amount_from_a_new_country_is_declined_with_reasons(
    pipeline: DecisionPipeline,
) -> None:
    history = [tx(minutes=i) for i in range(3)]
    fraud = tx(amount="15000.00", minutes=10, country="BR")
    result = pipeline.process(records(*history, fraud), store()[1])
    decision = decode_decision(result.outgoing[-2].value)
    assert decision.outcome is Outcome.DECLINE and decision.risk_score >= 0.9
    assert {r.feature for r in decision.reason_codes} >= {"amount"}
    assert all(r.contribution > 0 for r in decision.reason_codes)


def test_state_is_written_once_per_account_to_its_source_partition(
    pipeline: DecisionPipeline,
) -> None:
    result = pipeline.process(records(tx("a"), tx("b"), tx("a"), partition=7), store()[1])
    assert set(result.states) == {"a", "b"}
    partition, state = result.states["a"]
    assert partition == 7
    assert AccountFeatures.from_bytes(state, FEATURE_CONFIG).applied_offsets == {7: 102}


def test_a_redelivered_batch_changes_no_state_and_repeats_the_decisions(
    pipeline: DecisionPipeline,
) -> None:
    states, load = store()
    batch = records(*(tx(minutes=i) for i in range(4)))
    first = pipeline.process(batch, load)
    states.update({k: v for k, (_p, v) in first.states.items()})
    again = pipeline.process(batch, load)
    assert again.states["acct-1"][1] == first.states["acct-1"][1]
    assert [o.value for o in again.outgoing] == [o.value for o in first.outgoing]


def test_undecodable_and_invalid_records_are_dead_lettered_and_the_batch_goes_on(
    pipeline: DecisionPipeline,
) -> None:
    good = records(tx())
    garbage = SourceRecord("transactions", 1, 5, 0, b"k", b"\x00\x00\x00\x03\xe9oops")
    pan = records(tx(card_token="4111111111111111"), first_offset=9)
    control = records(tx(account_id="\x00applied:3"), first_offset=12)
    result = pipeline.process([garbage, *good, *pan, *control], store()[1])
    letters = [decode_dead_letter(o.value) for o in result.outgoing if o.role == "dead-letter"]
    assert [(d.partition, d.offset) for d in letters] == [(1, 5), (3, 9), (3, 12)]
    assert letters[0].value == garbage.value and letters[0].error_code == "malformed_message"
    assert letters[1].error_code == "invalid_transaction"
    assert "control characters" in letters[2].error_message
    # Routed by key like every output; only the changelog names its partition (app.py).
    assert {o.partition for o in result.outgoing} == {None}
    assert (result.decided, result.dead_lettered) == (1, 3)


def test_a_dead_letter_keeps_the_original_headers(pipeline: DecisionPipeline) -> None:
    # A re-driven record carries a link to the letter it came from (sentinel dlq redrive);
    # failing again, its new letter must keep it.
    headers = (("sentinel-redrive-of", b"dead-letter/0:4"), ("trace", b"\xff"))
    garbage = SourceRecord("transactions", 1, 5, 0, b"k", b"oops", headers)
    [out] = pipeline.process([garbage], store()[1]).outgoing
    letter = decode_dead_letter(out.value)
    assert letter.headers == {"sentinel-redrive-of": "dead-letter/0:4", "trace": "\ufffd"}


def test_without_a_model_rules_and_thresholds_still_decide(tmp_path: Path) -> None:
    pipeline = DecisionPipeline(
        ModelRegistry(tmp_path), RulesJudge(ReferenceData(), Thresholds(0.5, 0.9))
    )
    result = pipeline.process(records(tx()), store()[1])
    decision = decode_decision(result.outgoing[0].value)
    assert (decision.outcome, decision.model_version, decision.risk_score) == (
        Outcome.APPROVE,
        None,
        0.0,
    )


def test_kafka_producer_path_takes_the_broker_append_time_as_ingest_time(
    pipeline: DecisionPipeline,
) -> None:
    direct = tx(ingested_at=None)
    record = records(direct)[0]
    appended = SourceRecord(record.topic, 0, 0, 1_796_032_800_000, record.key, record.value)
    decision = decode_decision(pipeline.process([appended], store()[1]).outgoing[0].value)
    assert decision.ingested_at == datetime.fromtimestamp(1_796_032_800, UTC)


def test_a_published_decision_is_the_decision_encoded_whole_on_either_ingest_path(
    pipeline: DecisionPipeline,
) -> None:
    """The agents carry the transaction's bytes over from its message (``decode_received``);
    what they publish is what encoding the decision whole writes, for a transaction over
    HTTP (its ingest time in it) and one produced straight to Kafka (filled in)."""
    batch = records(tx(minutes=1), tx(minutes=2, ingested_at=None))
    outgoing = pipeline.process(batch, store()[1]).outgoing
    decisions = [o.value for o in outgoing if o.role == "decisions"]
    assert len(decisions) == 2
    assert [encode_decision(decode_decision(v)) for v in decisions] == decisions


def test_decide_gives_the_decisions_process_publishes_on_states_the_caller_holds(
    pipeline: DecisionPipeline,
) -> None:
    batch = records(*(tx(minutes=i) for i in range(4)), tx(amount="-1", minutes=5))
    published = pipeline.process(batch, store()[1])
    accounts: dict[str, AccountFeatures] = {}
    result = BatchResult()
    decided = pipeline.decide(batch, accounts, lambda _a: None, result)
    expected = [decode_decision(o.value) for o in published.outgoing if o.role == "decisions"]
    assert [d for _record, d in decided] == expected
    assert [r.offset for r, _d in decided] == [100, 101, 102, 103]
    assert (result.decided, result.dead_lettered) == (4, 1)
    assert accounts["acct-1"].to_bytes() == published.states["acct-1"][1]


def test_warm_applies_records_to_the_state_without_deciding_them(
    pipeline: DecisionPipeline,
) -> None:
    history, later = [tx(minutes=i) for i in range(3)], tx(minutes=10)
    accounts: dict[str, AccountFeatures] = {}
    result = BatchResult()
    pipeline.warm(records(*history), accounts, result)
    assert (result.decided, result.outgoing) == (0, [])
    ((_record, warmed),) = pipeline.decide(
        records(later, first_offset=103), accounts, lambda _a: None, result
    )
    cold = pipeline.process(records(*history, later), store()[1])
    assert warmed == decode_decision(cold.outgoing[-2].value)
    assert warmed.features["count_1h"] == 4.0


@pytest.fixture(scope="module")
def book_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("book")
    train_tiny_model(root, "champ")
    train_tiny_model(root, "shadow", rounds=3)
    train_tiny_model(root, "eager", card={"thresholds": {"review_at": 0.0, "decline_at": 1.0}})
    return root


def book_pipeline(
    root: Path, overrides: ThresholdOverrides | None = None, **roles: str
) -> DecisionPipeline:
    models = ModelBook(root, overrides or ThresholdOverrides())
    for role, version in roles.items():
        models.set(role, version)
    judge = RulesJudge(ReferenceData(), Thresholds(0.5, 0.9))
    return DecisionPipeline(models, judge, clock=lambda: T0)


def test_a_challenger_scores_in_shadow_and_never_changes_the_decision(
    book_registry: Path,
) -> None:
    batch = records(*(tx(minutes=i) for i in range(3)), tx(amount="15000.00", country="BR"))
    alone = book_pipeline(book_registry, champion="champ").process(batch, store()[1])
    shadowed = book_pipeline(book_registry, champion="champ", challenger="shadow")
    both = shadowed.process(batch, store()[1])
    plain = [decode_decision(o.value) for o in alone.outgoing if o.role == "decisions"]
    shadow = [decode_decision(o.value) for o in both.outgoing if o.role == "decisions"]
    assert {d.challenger_model_version for d in plain} == {None}
    assert {d.challenger_score for d in plain} == {None}
    assert {d.challenger_model_version for d in shadow} == {"shadow"}
    assert all(d.challenger_score is not None and 0 <= d.challenger_score <= 1 for d in shadow)
    # Another model: its scores differ from the champion's, yet nothing else does.
    assert [d.challenger_score for d in shadow] != [d.risk_score for d in shadow]
    unshadowed = [replace(d, challenger_model_version=None, challenger_score=None) for d in shadow]
    assert unshadowed == plain
    webhooks = [o.value for o in both.outgoing if o.role == "webhooks"]
    assert webhooks == [o.value for o in alone.outgoing if o.role == "webhooks"]


def test_the_champions_card_thresholds_decide_unless_the_environment_overrides_them(
    book_registry: Path,
) -> None:
    batch = records(tx())

    def outcome(pipeline: DecisionPipeline) -> Outcome:
        return decode_decision(pipeline.process(batch, store()[1]).outgoing[0].value).outcome

    assert outcome(book_pipeline(book_registry, champion="champ")) is Outcome.APPROVE
    # Its card reviews everything (review_at 0): a small, ordinary payment goes to review.
    assert outcome(book_pipeline(book_registry, champion="eager")) is Outcome.REVIEW
    overridden = book_pipeline(book_registry, ThresholdOverrides(review_at=0.5), champion="eager")
    assert outcome(overridden) is Outcome.APPROVE


def test_reasons_are_exact_where_the_score_reviews_and_approximated_where_a_rule_does(
    registry: Path,
) -> None:
    """A REVIEW only a rule asked for gets the approximation (its rule hit says why); one the
    score reached gets exact TreeSHAP, as a DECLINE does (``scoring.exact_reasons``)."""
    reference = ReferenceData()
    reference.apply("rules", b"r-all", encode_rule(rule("r-all", "amount > 0")))
    countries = ("IN", "BR", "FR", "NL", "IN", "US")
    batch = records(*(tx(amount=f"{25 + 900 * i}.00", minutes=i, country=c)
                      for i, c in enumerate(countries)))  # fmt: skip
    model = ModelRegistry(registry).live().champion
    assert model is not None

    def reviewed(judge: RulesJudge) -> list[tuple[tuple[ReasonCode, ...], ...]]:
        """Each decision's recorded reasons, then its row's exact and approximated ones."""
        pipeline = DecisionPipeline(ModelRegistry(registry), judge, clock=lambda: T0)
        result = pipeline.process(batch, store()[1])
        decisions = [decode_decision(o.value) for o in result.outgoing if o.role == "decisions"]
        assert {d.outcome for d in decisions} == {Outcome.REVIEW}
        assessment = model.assess([d.features for d in decisions])
        rows = len(decisions)
        exact, approximated = assessment.reasons([True] * rows), assessment.reasons([False] * rows)
        return [
            (d.reason_codes, e, a) for d, e, a in zip(decisions, exact, approximated, strict=True)
        ]

    # review_at 1: no score reaches it, the rule reviews; review_at 0: every score does.
    by_rule = reviewed(RulesJudge(reference, Thresholds(1.0, 1.1)))
    by_score = reviewed(RulesJudge(ReferenceData(), Thresholds(0.0, 1.1)))
    assert all(recorded == approximated for recorded, _, approximated in by_rule)
    assert all(recorded == exact for recorded, exact, _ in by_score)
    # The two methods differ on these rows (else the test would not tell them apart).
    assert any(exact != approximated for _, exact, approximated in by_rule)
