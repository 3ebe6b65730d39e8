"""What the ledger would refuse, settled in the pipeline before anything goes out (issue 18,
items 8 and 9): a foreign-currency transaction is declined with a reason code, and a reused
transaction id with different content is dead-lettered with nothing published for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from decision_core.features import AccountFeatures, FeatureEvent
from decision_core.features.codec import encode_state
from decision_core.judge import RulesJudge
from decision_core.ledger_policy import CURRENCY_MISMATCH, conflicting_fields
from decision_core.pipeline import DecisionPipeline
from decision_core.records import BatchResult, SourceRecord
from decision_core.reference import ReferenceData
from decision_core.scoring import ModelRegistry
from decision_core.transaction_features import FEATURE_CONFIG, feature_event
from rule_engine import Thresholds
from schemas.codec import (
    decode_dead_letter,
    decode_decision,
    decode_webhook_event,
    encode_transaction,
)
from schemas.enums import Outcome
from schemas.records import Transaction
from schemas.transaction_claims import claim_of, conflicts
from tests.support.records import transaction

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def tx(minutes: int = 0, **changes: object) -> Transaction:
    at = T0 + timedelta(minutes=minutes)
    return transaction(**{"timestamp": at, "ingested_at": at, **changes})


def records(*txs: Transaction, first_offset: int = 100) -> list[SourceRecord]:
    return [
        SourceRecord(
            "transactions", 3, first_offset + i, 0, t.account_id.encode(), encode_transaction(t)
        )
        for i, t in enumerate(txs)
    ]


@pytest.fixture
def pipeline(tmp_path: Path) -> DecisionPipeline:
    # No model: every transaction the rules leave alone is approved.
    return DecisionPipeline(
        ModelRegistry(tmp_path), RulesJudge(ReferenceData(), Thresholds(0.5, 0.9)), clock=lambda: T0
    )


def roles(result: BatchResult, role: str) -> list[bytes]:
    return [o.value for o in result.outgoing if o.role == role]


# Item 9: the account's currency is kept in its state and decides before anything goes out.


def test_a_transaction_in_another_currency_is_declined_with_a_reason_code(
    pipeline: DecisionPipeline,
) -> None:
    first, foreign = tx(0), tx(1, currency="USD")
    result = pipeline.process(records(first, foreign), {}.get)
    decisions = [decode_decision(v) for v in roles(result, "decisions")]
    events = [decode_webhook_event(v) for v in roles(result, "webhooks")]
    assert [d.outcome for d in decisions] == [Outcome.APPROVE, Outcome.DECLINE]
    assert decisions[1].reason_codes[0] == CURRENCY_MISMATCH
    assert CURRENCY_MISMATCH not in decisions[0].reason_codes
    # The webhook (and /authorize, which reads the same decision) say what the ledger books.
    assert [e.event_type for e in events] == ["decision.approved", "decision.declined"]


def test_the_currency_survives_the_changelog_and_decides_the_next_batch(
    pipeline: DecisionPipeline,
) -> None:
    states: dict[str, bytes] = {}
    first = pipeline.process(records(tx(0)), states.get)
    states.update({k: v for k, (_p, v) in first.states.items()})
    assert AccountFeatures.from_bytes(states["acct-1"], FEATURE_CONFIG).state.currency == "INR"
    later = pipeline.process(records(tx(5, currency="EUR"), first_offset=200), states.get)
    assert decode_decision(roles(later, "decisions")[0]).outcome is Outcome.DECLINE


def test_a_state_written_before_the_currency_was_kept_learns_it_from_its_next_transaction(
    pipeline: DecisionPipeline,
) -> None:
    old = AccountFeatures(FEATURE_CONFIG)
    old.observe_at(feature_event(tx(0)), 3, 50)
    legacy = encode_state(old.state)  # no currency: format 2, as the previous version wrote
    assert legacy[0] == 2
    states = {"acct-1": legacy}
    result = pipeline.process(records(tx(1, currency="EUR"), tx(2, currency="INR")), states.get)
    outcomes = [decode_decision(v).outcome for v in roles(result, "decisions")]
    assert outcomes == [Outcome.APPROVE, Outcome.DECLINE]


def test_the_first_transaction_of_each_account_sets_its_own_currency(
    pipeline: DecisionPipeline,
) -> None:
    batch = [
        tx(0, account_id="a"),
        tx(1, account_id="b", currency="USD"),
        tx(2, account_id="b", currency="USD"),
    ]
    result = pipeline.process(records(*batch), {}.get)
    assert {decode_decision(v).outcome for v in roles(result, "decisions")} == {Outcome.APPROVE}


# Item 8: a reused transaction id with different content is a conflict, not a redelivery.


def test_a_reused_id_with_a_different_amount_is_dead_lettered_and_nothing_goes_out(
    pipeline: DecisionPipeline,
) -> None:
    first = tx(0)
    reuse = tx(0, transaction_id=first.transaction_id, amount=Decimal("900.00"))
    result = pipeline.process(records(first, reuse), {}.get)
    decisions = [decode_decision(v) for v in roles(result, "decisions")]
    assert [d.transaction.amount for d in decisions] == [Decimal("25.00")]
    assert len(roles(result, "webhooks")) == 1
    letters = [decode_dead_letter(v) for v in roles(result, "dead-letter")]
    assert [(x.error_code, x.offset) for x in letters] == [("conflicting_duplicate", 101)]
    assert "amount" in letters[0].error_message
    assert result.decided == 1 and result.dead_lettered == 1


def test_a_reused_id_is_caught_across_batches_through_the_state(
    pipeline: DecisionPipeline,
) -> None:
    states: dict[str, bytes] = {}
    first = tx(0)
    done = pipeline.process(records(first), states.get)
    states.update({k: v for k, (_p, v) in done.states.items()})
    reuse = tx(3, transaction_id=first.transaction_id, merchant_id="m-2")
    result = pipeline.process(records(reuse, first_offset=300), states.get)
    assert roles(result, "decisions") == [] and roles(result, "webhooks") == []
    assert decode_dead_letter(roles(result, "dead-letter")[0]).error_code == "conflicting_duplicate"
    assert result.states == {}  # the state stays as the first transaction made it


def test_the_same_transaction_produced_again_is_still_a_redelivery(
    pipeline: DecisionPipeline,
) -> None:
    first = tx(0, lat=48.8566, lon=2.3522)
    again = tx(0, transaction_id=first.transaction_id, lat=48.8566, lon=2.3522)
    result = pipeline.process(records(first, again), {}.get)
    assert roles(result, "dead-letter") == []
    decisions = [decode_decision(v) for v in roles(result, "decisions")]
    assert [d.decision_id for d in decisions] == [decisions[0].decision_id] * 2


def test_conflicting_fields_names_each_difference() -> None:
    account = AccountFeatures(FEATURE_CONFIG)
    stored = FeatureEvent("t-1", 1_000, 2500, "m-1", "IN", None, 48.85, 2.35)
    account.observe_at(stored, 0, 1)
    state = account.state
    assert conflicting_fields(state, stored) == ()
    assert conflicting_fields(state, FeatureEvent("t-2", 5, 1, "x", "y")) == ()
    changed = FeatureEvent("t-1", 2_000, 2500, "m-1", "FR", None, 48.85, None)
    assert conflicting_fields(state, changed) == ("timestamp", "country", "location")


def test_replay_warm_up_skips_a_conflicting_reuse_as_the_live_agent_does(
    pipeline: DecisionPipeline,
) -> None:
    first = tx(0)
    reuse = tx(0, transaction_id=first.transaction_id, amount=Decimal("1.00"))
    accounts: dict[str, AccountFeatures] = {}
    result = BatchResult()
    pipeline.warm(records(first, reuse), accounts, result)
    assert result.dead_lettered == 1
    assert accounts["acct-1"].state.amounts == [250_000]
    assert accounts["acct-1"].state.currency == "INR"


def claimed_before(registry: dict[str, str], claims: list[tuple[str, str]]) -> list[str | None]:
    """The answers of a pipelined ``SET NX GET`` per claim, against a dict as the registry."""
    previous = []
    for tid, fingerprint in claims:
        previous.append(registry.get(tid))
        registry.setdefault(tid, fingerprint)
    return previous


def test_a_reused_id_of_another_account_is_dead_lettered_by_the_registry_claims(
    pipeline: DecisionPipeline,
) -> None:
    # Two accounts: neither state can see the other's id; the registry (the API's) can.
    first = tx(0, account_id="acct-1")
    reuse = tx(1, account_id="acct-2", transaction_id=first.transaction_id)
    result = BatchResult()
    screened = pipeline.screen(records(first, reuse), result)
    claims = [claim_of(one.tx) for one in screened]
    reused = conflicts(claims, claimed_before({}, claims))
    assert reused == [False, True]
    pipeline.process_screened(screened, {}.get, result, reused)
    decisions = [decode_decision(v) for v in roles(result, "decisions")]
    assert [d.account_id for d in decisions] == ["acct-1"]
    assert [decode_webhook_event(v).account_id for v in roles(result, "webhooks")] == ["acct-1"]
    letters = [decode_dead_letter(v) for v in roles(result, "dead-letter")]
    assert [(x.error_code, x.offset) for x in letters] == [("conflicting_duplicate", 101)]
    assert "acct-1" not in letters[0].error_message  # nothing of the other account's body
    assert set(result.states) == {"acct-1"}  # acct-2's state untouched
    assert result.decided == 1 and result.dead_lettered == 1


def test_an_id_claimed_with_the_same_body_is_decided_a_redelivery_or_the_apis_claim(
    pipeline: DecisionPipeline,
) -> None:
    first = tx(0)
    registry = {first.transaction_id: claim_of(first)[1]}  # the API's, or this agent's earlier
    result = BatchResult()
    screened = pipeline.screen(records(first), result)
    claims = [claim_of(one.tx) for one in screened]  # decoded from Kafka: the same hash
    reused = conflicts(claims, claimed_before(registry, claims))
    pipeline.process_screened(screened, {}.get, result, reused)
    assert reused == [False]
    assert len(roles(result, "decisions")) == 1 and roles(result, "dead-letter") == []


def test_screening_dead_letters_what_cannot_be_claimed(pipeline: DecisionPipeline) -> None:
    bad = tx(0, amount=Decimal("-1.00"))
    result = BatchResult()
    good = tx(1)
    batch = [
        *records(bad),
        SourceRecord("transactions", 3, 7, 0, b"k", b"\x00junk"),
        *records(good, first_offset=8),
    ]
    screened = pipeline.screen(batch, result)
    assert [one.tx.transaction_id for one in screened] == [good.transaction_id]
    assert result.dead_lettered == 2 and len(roles(result, "dead-letter")) == 2
