"""Records off the per-transaction hot path: webhooks, rules, labels, dead letters, accounts,
merchant risk, model announcements.

Import them from `schemas.records`; this module only keeps that file small.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar, Self

from schemas._convert import aware
from schemas.enums import Outcome, RuleMode
from schemas.features import MERCHANT_FEATURE_NAMES
from schemas.pan import mask_pans, mask_pans_in_bytes

# Set on a dead letter whose bytes held a card number, masked before it was stored: it is
# no longer the original record, so it cannot be re-driven as one.
HEADER_PAN_MASKED = "sentinel-pan-masked"


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookEvent:
    """An event for webhook subscribers (webhook_event.avsc)."""

    RECORD: ClassVar[str] = "webhook_event"

    event_id: str
    event_type: str
    created_at: datetime
    account_id: str
    transaction_id: str
    payload_json: str

    def to_avro(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "created_at": aware(self.created_at),
            "account_id": self.account_id,
            "transaction_id": self.transaction_id,
            "payload_json": self.payload_json,
        }

    @classmethod
    def from_avro(cls, value: Mapping[str, Any]) -> Self:
        return cls(
            event_id=value["event_id"],
            event_type=value["event_type"],
            created_at=value["created_at"],
            account_id=value["account_id"],
            transaction_id=value["transaction_id"],
            payload_json=value["payload_json"],
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One version of a rule on the compacted rules topic (rule.avsc).

    Deleting a rule is a Kafka tombstone (null value) under its rule_id key, not a record.
    """

    RECORD: ClassVar[str] = "rule"

    rule_id: str
    version: int
    name: str
    description: str
    expression: str
    action: str
    priority: int
    mode: RuleMode
    author: str
    updated_at: datetime
    score_delta: float | None = None

    def to_avro(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "version": self.version,
            "name": self.name,
            "description": self.description,
            "expression": self.expression,
            "action": self.action,
            "score_delta": self.score_delta,
            "priority": self.priority,
            "mode": self.mode,
            "author": self.author,
            "updated_at": aware(self.updated_at),
        }

    @classmethod
    def from_avro(cls, value: Mapping[str, Any]) -> Self:
        return cls(
            rule_id=value["rule_id"],
            version=value["version"],
            name=value["name"],
            description=value["description"],
            expression=value["expression"],
            action=value["action"],
            score_delta=value.get("score_delta"),
            priority=value["priority"],
            mode=RuleMode(value["mode"]),
            author=value["author"],
            updated_at=value["updated_at"],
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Label:
    """A fraud (or genuine) verdict on one transaction (label.avsc)."""

    RECORD: ClassVar[str] = "label"

    transaction_id: str
    account_id: str
    merchant_id: str
    is_fraud: bool
    labelled_at: datetime
    transaction_timestamp: datetime
    scenario: str | None = None
    reason: str | None = None  # v2: the source's reason code or note

    def to_avro(self) -> dict[str, Any]:
        return {
            "transaction_id": self.transaction_id,
            "account_id": self.account_id,
            "merchant_id": self.merchant_id,
            "is_fraud": self.is_fraud,
            "scenario": self.scenario,
            "labelled_at": aware(self.labelled_at),
            "transaction_timestamp": aware(self.transaction_timestamp),
            "reason": self.reason,
        }

    @classmethod
    def from_avro(cls, value: Mapping[str, Any]) -> Self:
        return cls(
            transaction_id=value["transaction_id"],
            account_id=value["account_id"],
            merchant_id=value["merchant_id"],
            is_fraud=value["is_fraud"],
            scenario=value.get("scenario"),
            labelled_at=value["labelled_at"],
            transaction_timestamp=value["transaction_timestamp"],
            reason=value.get("reason"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewResolution:
    """An analyst's verdict on a REVIEW decision, from the console (review_resolution.avsc).

    ``verdict`` is ``APPROVE`` (the money moves) or ``DECLINE`` (nothing moves);
    ``confirmed_fraud`` goes only with ``DECLINE``. The reviews sink applies the first
    resolution of a transaction and refuses any other (``ledger_sink.reviews``).
    """

    RECORD: ClassVar[str] = "review_resolution"

    resolution_id: str
    transaction_id: str
    account_id: str
    decision_id: str
    verdict: Outcome
    confirmed_fraud: bool
    note: str
    analyst: str
    resolved_at: datetime

    def to_avro(self) -> dict[str, Any]:
        return {
            "resolution_id": self.resolution_id,
            "transaction_id": self.transaction_id,
            "account_id": self.account_id,
            "decision_id": self.decision_id,
            "verdict": self.verdict.value,
            "confirmed_fraud": self.confirmed_fraud,
            "note": self.note,
            "analyst": self.analyst,
            "resolved_at": aware(self.resolved_at),
        }

    @classmethod
    def from_avro(cls, value: Mapping[str, Any]) -> Self:
        return cls(
            resolution_id=value["resolution_id"],
            transaction_id=value["transaction_id"],
            account_id=value["account_id"],
            decision_id=value["decision_id"],
            verdict=Outcome(value["verdict"]),
            confirmed_fraud=value["confirmed_fraud"],
            note=value["note"],
            analyst=value["analyst"],
            resolved_at=value["resolved_at"],
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    """An undecodable or invalid record, kept byte for byte with the reason (dead_letter.avsc)."""

    RECORD: ClassVar[str] = "dead_letter"

    source_topic: str
    partition: int
    offset: int
    value: bytes
    error_code: str
    error_message: str
    failed_at: datetime
    key: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def masked(self) -> Self:
        """This letter with every card number masked (all but the last four digits), byte
        positions kept; marked with ``HEADER_PAN_MASKED`` when anything was masked."""
        key = None if self.key is None else mask_pans_in_bytes(self.key)
        value = mask_pans_in_bytes(self.value)
        message = mask_pans(self.error_message)
        headers = {name: mask_pans(text) for name, text in self.headers.items()}
        changed = (key, value, message, headers) != (
            self.key,
            self.value,
            self.error_message,
            dict(self.headers),
        )
        if not changed:
            return self
        headers[HEADER_PAN_MASKED] = "true"
        return replace(self, key=key, value=value, error_message=message, headers=headers)

    def to_avro(self) -> dict[str, Any]:
        return {
            "source_topic": self.source_topic,
            "partition": self.partition,
            "offset": self.offset,
            "key": self.key,
            "value": self.value,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "failed_at": aware(self.failed_at),
            "headers": self.headers,
        }

    @classmethod
    def from_avro(cls, value: Mapping[str, Any]) -> Self:
        return cls(
            source_topic=value["source_topic"],
            partition=value["partition"],
            offset=value["offset"],
            key=value.get("key"),
            value=value["value"],
            error_code=value["error_code"],
            error_message=value["error_message"],
            failed_at=value["failed_at"],
            headers=value["headers"],
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountProfile:
    """An account's home, on the compacted accounts topic (account_profile.avsc)."""

    RECORD: ClassVar[str] = "account_profile"

    account_id: str
    home_country: str
    updated_at: datetime
    home_lat: float | None = None
    home_lon: float | None = None

    def to_avro(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "home_country": self.home_country,
            "home_lat": self.home_lat,
            "home_lon": self.home_lon,
            "updated_at": aware(self.updated_at),
        }

    @classmethod
    def from_avro(cls, value: Mapping[str, Any]) -> Self:
        return cls(
            account_id=value["account_id"],
            home_country=value["home_country"],
            home_lat=value.get("home_lat"),
            home_lon=value.get("home_lon"),
            updated_at=value["updated_at"],
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class NamedList:
    """A named allow/deny list, whole, on the compacted lists topic (named_list.avsc)."""

    RECORD: ClassVar[str] = "named_list"

    name: str
    kind: str
    values: tuple[str, ...]
    updated_at: datetime

    def to_avro(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "values": list(self.values),
            "updated_at": aware(self.updated_at),
        }

    @classmethod
    def from_avro(cls, value: Mapping[str, Any]) -> Self:
        return cls(
            name=value["name"],
            kind=value["kind"],
            values=tuple(value["values"]),
            updated_at=value["updated_at"],
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MerchantRisk:
    """A merchant's risk features for one hour, on the compacted merchant-risk topic
    (merchant_risk.avsc). A tombstone under the merchant id means all zeros. The ``recent_``
    windows came with v2: a v1 record reads them as zeros."""

    RECORD: ClassVar[str] = "merchant_risk"
    # The features' fields: their names without the "merchant_", in the features' order.
    VALUE_FIELDS: ClassVar[tuple[str, ...]] = tuple(
        name.removeprefix("merchant_") for name in MERCHANT_FEATURE_NAMES
    )

    merchant_id: str
    hour: datetime
    tx_1d: int
    risk_1d: float
    tx_7d: int
    risk_7d: float
    tx_30d: int
    risk_30d: float
    computed_at: datetime
    recent_tx_1d: int = 0
    recent_risk_1d: float = 0.0
    recent_tx_7d: int = 0
    recent_risk_7d: float = 0.0
    recent_tx_30d: int = 0
    recent_risk_30d: float = 0.0

    @classmethod
    def of(
        cls, merchant_id: str, hour: datetime, values: Sequence[float], computed_at: datetime
    ) -> Self:
        """From the features' values in ``VALUE_FIELDS`` order (counts as whole numbers)."""
        named: dict[str, Any] = {
            name: int(v) if name.startswith(("tx_", "recent_tx_")) else float(v)
            for name, v in zip(cls.VALUE_FIELDS, values, strict=True)
        }
        return cls(merchant_id=merchant_id, hour=hour, computed_at=computed_at, **named)

    @property
    def values(self) -> tuple[float, ...]:
        """The features' values in ``VALUE_FIELDS`` order, as floats."""
        return tuple(float(getattr(self, name)) for name in self.VALUE_FIELDS)

    def to_avro(self) -> dict[str, Any]:
        return {
            "merchant_id": self.merchant_id,
            "hour": aware(self.hour),
            "computed_at": aware(self.computed_at),
            **{name: getattr(self, name) for name in self.VALUE_FIELDS},
        }

    @classmethod
    def from_avro(cls, value: Mapping[str, Any]) -> Self:
        return cls(
            merchant_id=value["merchant_id"],
            hour=value["hour"],
            computed_at=value["computed_at"],
            **{name: value[name] for name in cls.VALUE_FIELDS if name in value},
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelAnnouncement:
    """Which registry version plays a role, on the compacted models topic keyed by role
    (model_announcement.avsc). Clearing a role is a tombstone under its key, not a record."""

    RECORD: ClassVar[str] = "model_announcement"

    role: str
    version: str
    announced_at: datetime
    announced_by: str
    forced: bool = False

    def to_avro(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "version": self.version,
            "announced_at": aware(self.announced_at),
            "announced_by": self.announced_by,
            "forced": self.forced,
        }

    @classmethod
    def from_avro(cls, value: Mapping[str, Any]) -> Self:
        return cls(
            role=value["role"],
            version=value["version"],
            announced_at=value["announced_at"],
            announced_by=value["announced_by"],
            forced=value.get("forced", False),
        )
