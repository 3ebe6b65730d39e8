"""What the agent publishes for a decision or a bad record: decision, webhook event, dead letter."""

from __future__ import annotations

from datetime import UTC, datetime

from decision_core.records import Outgoing, SourceRecord
from schemas.codec import Buffer, encode_dead_letter, encode_decision, encode_webhook_event
from schemas.enums import Outcome
from schemas.records import (
    DeadLetter,
    Decision,
    ReasonCode,
    WebhookEvent,
    decision_event,
)
from schemas.topics import HEADER_REPLY_TO, HEADER_TRANSACTION_ID

# The output role of the copies of awaited decisions (the ``decision-replies`` topic).
REPLIES = "replies"


def decision_record(decision: Decision, transaction_front: Buffer | None = None) -> Outgoing:
    """A decision as the decisions topic carries it: keyed by account, its transaction id in a
    header. ``transaction_front``: see ``schemas.codec.encode_decision``."""
    headers = ((HEADER_TRANSACTION_ID, decision.transaction_id.encode()),)
    return Outgoing(
        "decisions",
        decision.account_id.encode(),
        encode_decision(decision, transaction_front=transaction_front),
        headers,
    )


def publishable(decision: Decision, transaction_front: Buffer | None = None) -> list[Outgoing]:
    """The records the agent publishes for one decision: the decision and its webhook event."""
    record = decision_record(decision, transaction_front)
    event = encode_webhook_event(webhook_event(decision))
    return [record, Outgoing("webhooks", record.key, event, record.headers)]


def reply_partition(headers: tuple[tuple[str, bytes], ...], partitions: int) -> int | None:
    """The ``decision-replies`` partition a transaction's producer reads (its
    ``HEADER_REPLY_TO``), or None: no header, or one naming no partition of the
    ``partitions`` the topic has. The caller then gets no reply and falls back at its
    deadline; the decision itself is published as always."""
    for name, value in headers:
        if name == HEADER_REPLY_TO:
            if value.isdigit() and len(value) < 6 and int(value) < partitions:
                return int(value)
            return None
    return None


def reply(decision: Outgoing, partition: int) -> Outgoing:
    """A decision record's copy for the ``decision-replies`` partition its caller reads."""
    return Outgoing(REPLIES, decision.key, decision.value, decision.headers, partition=partition)


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
    return decision_event(
        decision.decision_id,
        event_type,
        created_at=decision.decided_at,
        account_id=decision.account_id,
        transaction_id=decision.transaction_id,
        payload=payload,
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
    )
