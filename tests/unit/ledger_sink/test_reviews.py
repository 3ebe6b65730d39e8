"""The reviews sink's pure parts: which resolutions can apply, one per case, the entry an
approval appends, and what a verdict sends out (event and label)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest

from ledger_sink.hashchain import verify_chain
from ledger_sink.ledger import ChainHead, next_entry
from ledger_sink.reviews import (
    AlreadyResolved,
    Case,
    NotUnderReview,
    check_case,
    first_per_case,
    invalid,
    label_of,
    plan_approvals,
    resolved_event,
)
from ledger_sink.testing import decision, transaction
from schemas.records import Outcome, ReviewResolution, TxType, decision_id_for

AT = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
TX = "tx-review-1"


def resolution(**changes: object) -> ReviewResolution:
    fields: dict[str, object] = {
        "resolution_id": str(uuid.uuid4()),
        "transaction_id": TX,
        "account_id": "acct-1",
        "decision_id": decision_id_for(TX),
        "verdict": Outcome.APPROVE,
        "confirmed_fraud": False,
        "note": "called the customer",
        "analyst": "ana",
        "resolved_at": AT,
    }
    fields.update(changes)
    return ReviewResolution(**fields)  # type: ignore[arg-type]


def case(**changes: object) -> Case:
    fields: dict[str, object] = {
        "transaction_id": TX,
        "account_id": "acct-1",
        "decision_id": decision_id_for(TX),
        "outcome": "REVIEW",
        "amount": Decimal("100.0000"),
        "currency": "EUR",
        "tx_type": "credit",
        "merchant_id": "m-1",
        "event_ts": AT.replace(hour=8),
    }
    fields.update(changes)
    return Case(**fields)  # type: ignore[arg-type]


def test_a_well_formed_resolution_is_valid() -> None:
    assert invalid(resolution()) is None
    assert invalid(resolution(verdict=Outcome.DECLINE, confirmed_fraud=True)) is None


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"resolution_id": "r-1"}, "not a UUID"),
        ({"verdict": Outcome.REVIEW}, "neither APPROVE nor DECLINE"),
        ({"confirmed_fraud": True}, "only with DECLINE"),
        ({"decision_id": str(uuid.uuid4())}, "not the decision of"),
        ({"analyst": ""}, "no analyst"),
        ({"note": "x" * 2001}, "longer than 2000"),
    ],
)
def test_a_resolution_that_can_never_apply_says_why(changes: dict[str, object], why: str) -> None:
    assert why in (invalid(resolution(**changes)) or "")


def test_a_double_submit_is_one_resolution_and_a_second_analyst_is_refused() -> None:
    first = resolution()
    other_case = resolution(transaction_id="tx-2", decision_id=decision_id_for("tx-2"))
    assert first_per_case([first, other_case, first]) == [first, other_case]
    with pytest.raises(AlreadyResolved):
        first_per_case([first, resolution(analyst="bob", verdict=Outcome.DECLINE)])


@pytest.mark.parametrize(
    "stored",
    [None, case(outcome="APPROVE"), case(account_id="acct-2"), case(decision_id="other")],
)
def test_only_the_review_decision_it_names_can_be_resolved(stored: Case | None) -> None:
    with pytest.raises(NotUnderReview):
        check_case(resolution(), stored)
    check_case(resolution(), case())


def test_an_approval_appends_the_money_moving_entry_to_the_chain() -> None:
    review = decision(
        transaction("acct-1", "100.00", tx_type=TxType.CREDIT, transaction_id=TX), Outcome.REVIEW
    )
    zero = next_entry(ChainHead("acct-1", "EUR"), review, AT)
    head = ChainHead("acct-1", "EUR", zero.balance_after, zero.seq, zero.entry_hash)
    approval = resolution()
    entries, moved = plan_approvals([(approval, case())], {"acct-1": head}, AT)
    (entry,) = entries
    assert (zero.amount, entry.amount, entry.balance_after) == (
        Decimal("0.0000"),
        Decimal("100.0000"),
        Decimal("100.0000"),
    )
    assert (entry.kind, entry.hash_version, entry.resolution_id) == (
        "resolution",
        2,
        approval.resolution_id,
    )
    assert (entry.outcome, entry.decision_id, entry.seq) == ("APPROVE", review.decision_id, 2)
    assert moved["acct-1"].balance == Decimal("100.0000")
    assert verify_chain([zero, entry]) is None


def test_the_resolved_event_is_the_same_on_every_resend() -> None:
    approval = resolution()
    event = resolved_event(approval, case())
    assert event == resolved_event(approval, case())
    assert event.event_type == "decision.resolved"
    assert orjson.loads(event.payload_json) == {
        "decision_id": decision_id_for(TX),
        "transaction_id": TX,
        "account_id": "acct-1",
        "resolution_id": approval.resolution_id,
        "outcome": "APPROVE",
        "confirmed_fraud": False,
        "amount": "100.0000",
        "currency": "EUR",
        "resolved_at": AT.isoformat(),
    }


def test_confirmed_fraud_and_approvals_teach_an_unconfirmed_decline_does_not() -> None:
    fraud = label_of(resolution(verdict=Outcome.DECLINE, confirmed_fraud=True), case())
    genuine = label_of(resolution(), case())
    assert fraud is not None and genuine is not None
    assert (fraud.is_fraud, genuine.is_fraud) == (True, False)
    assert fraud.labelled_at == AT and fraud.transaction_timestamp == case().event_ts
    assert label_of(resolution(verdict=Outcome.DECLINE), case()) is None
    assert replace(fraud, is_fraud=False) == replace(genuine, scenario=fraud.scenario)
