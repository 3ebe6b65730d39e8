"""Typed records mirroring the latest .avsc of each contract; their conversion to and from
fastavro's dicts is planned from the .avsc (`schemas._plan`).

Plain frozen, slotted dataclasses rather than pydantic: they sit on the stream's hot path,
and validation of untrusted input belongs at the HTTP edge. Timestamps are timezone-aware
and carry millisecond precision on the wire (timestamp-millis); amounts are exact Decimals.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar, Protocol, Self

import orjson

from schemas._convert import AMOUNT_SCALE
from schemas._plan import AvroConverted, FieldCodec, plan_records
from schemas._support_records import (
    HEADER_PAN_MASKED,
    AccountProfile,
    DeadLetter,
    Label,
    MerchantRisk,
    ModelAnnouncement,
    NamedList,
    ReviewResolution,
    Rule,
    WebhookEvent,
)
from schemas.enums import Channel, Outcome, RuleMode, TxType
from schemas.features import feature_values, named_features

__all__ = [
    "AMOUNT_SCALE",
    "HEADER_PAN_MASKED",
    "RECORD_TYPES",
    "AccountProfile",
    "AvroRecord",
    "Channel",
    "DeadLetter",
    "Decision",
    "Label",
    "MerchantRisk",
    "ModelAnnouncement",
    "NamedList",
    "Outcome",
    "ReasonCode",
    "ReviewResolution",
    "Rule",
    "RuleHit",
    "RuleMode",
    "Transaction",
    "TxType",
    "WebhookEvent",
    "decision_event",
    "decision_id_for",
    "webhook_event_id_for",
]

# Both fixed forever: changing one would change every id already in the ledger or sent out.
_DECISION_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "decision.sentinelstream.io")
_WEBHOOK_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "webhook.sentinelstream.io")


class AvroRecord(Protocol):
    """What the codec needs from a record type."""

    RECORD: ClassVar[str]

    def to_avro(self) -> dict[str, Any]: ...

    @classmethod
    def from_avro(cls, value: Mapping[str, Any]) -> Self: ...


def decision_id_for(transaction_id: str) -> str:
    """The decision id of a transaction: UUIDv5, so a re-decided transaction keeps its id."""
    return uuid5_text(_DECISION_NAMESPACE, transaction_id)


def webhook_event_id_for(decision_id: str, event_type: str) -> str:
    """A webhook event id that is the same on every redelivery of the same decision."""
    return uuid5_text(_WEBHOOK_NAMESPACE, f"{decision_id}/{event_type}")


def decision_event(
    decision_id: str,
    event_type: str,
    *,
    created_at: datetime,
    account_id: str,
    transaction_id: str,
    payload: Mapping[str, Any],
) -> WebhookEvent:
    """A webhook event about a decision (decided, resolved): its id derived from the decision
    and the type, so a resend is the same event; ``payload`` becomes its JSON body."""
    return WebhookEvent(
        event_id=webhook_event_id_for(decision_id, event_type),
        event_type=event_type,
        created_at=created_at,
        account_id=account_id,
        transaction_id=transaction_id,
        payload_json=orjson.dumps(payload).decode(),
    )


def uuid5_text(namespace: uuid.UUID, name: str) -> str:
    """``str(uuid.uuid5(namespace, name))``, the same text, at about a third of the cost.

    Two per decision on the agents' hot path, where building and formatting ``UUID``
    objects showed up in profiles; a unit test holds it equal to ``uuid.uuid5``.
    """
    digest = bytearray(hashlib.sha1(namespace.bytes + name.encode()).digest()[:16])  # noqa: S324
    digest[6] = digest[6] & 0x0F | 0x50  # version 5
    digest[8] = digest[8] & 0x3F | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Transaction(AvroConverted):
    """One card transaction (transaction.avsc)."""

    RECORD: ClassVar[str] = "transaction"

    transaction_id: str
    account_id: str
    card_token: str
    amount: Decimal
    currency: str
    merchant_id: str
    country: str
    channel: Channel
    timestamp: datetime
    type: TxType
    mcc: str | None = None
    city: str | None = None
    lat: float | None = None
    lon: float | None = None
    device_id: str | None = None
    ip: str | None = None
    ingested_at: datetime | None = None
    idempotency_key: str | None = None
    merchant_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleHit(AvroConverted):
    """A rule that fired for a decision, at the version that was live."""

    rule_id: str
    version: int
    action: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReasonCode(AvroConverted):
    """One feature's contribution to the model score."""

    feature: str
    value: float
    contribution: float


def _features_from_wire(value: Mapping[str, Any]) -> dict[str, float]:
    return named_features(value.get("feature_values", ()), value["features"])


def _features_to_wire(features: Mapping[str, float]) -> dict[str, Any]:
    values, others = feature_values(features)
    return {"features": others, "feature_values": values}


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision(AvroConverted):
    """The outcome for one transaction, embedding it (decision.avsc)."""

    RECORD: ClassVar[str] = "decision"
    # Listed features by position (v4's ``feature_values``), any other by name.
    FIELD_CODECS: ClassVar[Mapping[str, FieldCodec]] = MappingProxyType(
        {
            "features": FieldCodec(
                ("features", "feature_values"), _features_to_wire, _features_from_wire
            )
        }
    )

    decision_id: str
    transaction_id: str
    account_id: str
    outcome: Outcome
    risk_score: float
    ingested_at: datetime
    decided_at: datetime
    transaction: Transaction
    model_version: str | None = None
    # The challenger scoring in shadow (decision v3): recorded beside the champion, never
    # deciding. Both None when no challenger is announced.
    challenger_model_version: str | None = None
    challenger_score: float | None = None
    rules_fired: tuple[RuleHit, ...] = ()
    shadow_rules_fired: tuple[RuleHit, ...] = ()
    reason_codes: tuple[ReasonCode, ...] = ()
    features: Mapping[str, float] = field(default_factory=dict)


_TOP_LEVEL: tuple[type[AvroConverted], ...] = (
    Transaction,
    Decision,
    WebhookEvent,
    Rule,
    Label,
    DeadLetter,
    AccountProfile,
    NamedList,
    MerchantRisk,
    ModelAnnouncement,
    ReviewResolution,
)
plan_records(_TOP_LEVEL)
# Record name (as in the .avsc file names and the registry) -> its Python type.
RECORD_TYPES: Mapping[str, type[AvroConverted]] = MappingProxyType(
    {cls.RECORD: cls for cls in _TOP_LEVEL}
)
