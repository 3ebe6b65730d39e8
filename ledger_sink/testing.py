"""Builders of well-formed decisions and webhook events, for tests, benchmarks and demos.

Like ``bytewax.testing``: shipped with the package so every suite and the benchmark build
records the same way, and never imported by the services themselves.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from schemas.records import (
    Channel,
    Decision,
    Outcome,
    RuleHit,
    Transaction,
    TxType,
    WebhookEvent,
    decision_event,
    decision_id_for,
)

EPOCH = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
# A token as gateways send it (never a card number: the database refuses those).
SAMPLE_CARD = "tok_5d41402abc4b"


def transaction(
    account_id: str,
    amount: Decimal | str = "10.00",
    *,
    tx_type: TxType = TxType.DEBIT,
    currency: str = "EUR",
    merchant_id: str = "m-1",
    country: str = "FR",
    city: str | None = "Paris",
    channel: Channel = Channel.POS,
    at: datetime = EPOCH,
    transaction_id: str | None = None,
) -> Transaction:
    return Transaction(
        transaction_id=transaction_id or str(uuid.uuid4()),
        account_id=account_id,
        card_token=SAMPLE_CARD,
        amount=Decimal(amount),
        currency=currency,
        merchant_id=merchant_id,
        merchant_name=f"Merchant {merchant_id}",
        mcc="5411",
        country=country,
        city=city,
        channel=channel,
        timestamp=at,
        type=tx_type,
        ingested_at=at,
    )


def decision(
    tx: Transaction,
    outcome: Outcome = Outcome.APPROVE,
    *,
    risk_score: float = 0.1,
    rules: tuple[RuleHit, ...] = (),
    shadow_rules: tuple[RuleHit, ...] = (),
) -> Decision:
    return Decision(
        decision_id=decision_id_for(tx.transaction_id),
        transaction_id=tx.transaction_id,
        account_id=tx.account_id,
        outcome=outcome,
        risk_score=risk_score,
        ingested_at=tx.ingested_at or tx.timestamp,
        decided_at=(tx.ingested_at or tx.timestamp) + timedelta(milliseconds=12),
        transaction=tx,
        model_version="test-model",
        rules_fired=rules,
        shadow_rules_fired=shadow_rules,
        features={"amount": float(tx.amount)},
    )


def webhook_event(decision: Decision, event_type: str | None = None) -> WebhookEvent:
    """The event the agents announce for `decision` (decision.approved, .review, .declined)."""
    kind = event_type or f"decision.{_EVENT_SUFFIX[decision.outcome]}"
    payload = {
        "decision_id": decision.decision_id,
        "transaction_id": decision.transaction_id,
        "account_id": decision.account_id,
        "outcome": str(decision.outcome),
        "risk_score": decision.risk_score,
        "amount": str(decision.transaction.amount),
        "currency": decision.transaction.currency,
    }
    return decision_event(
        decision.decision_id,
        kind,
        created_at=decision.decided_at,
        account_id=decision.account_id,
        transaction_id=decision.transaction_id,
        payload=payload,
    )


_EVENT_SUFFIX = {Outcome.APPROVE: "approved", Outcome.REVIEW: "review", Outcome.DECLINE: "declined"}
