"""Records off the per-transaction hot path: webhooks, rules, labels, dead letters, accounts,
merchant risk, model announcements.

Import them from `schemas.records`; this module only keeps that file small.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar, Self

from schemas._plan import AvroConverted
from schemas.enums import Outcome, RuleMode
from schemas.features import MERCHANT_FEATURE_NAMES
from schemas.pan import mask_pans, mask_pans_in_bytes

# Set on a dead letter whose bytes held a card number, masked before it was stored: it is
# no longer the original record, so it cannot be re-driven as one.
HEADER_PAN_MASKED = "sentinel-pan-masked"


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookEvent(AvroConverted):
    """An event for webhook subscribers (webhook_event.avsc)."""

    RECORD: ClassVar[str] = "webhook_event"

    event_id: str
    event_type: str
    created_at: datetime
    account_id: str
    transaction_id: str
    payload_json: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule(AvroConverted):
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Label(AvroConverted):
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


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewResolution(AvroConverted):
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


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter(AvroConverted):
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


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountProfile(AvroConverted):
    """An account's home, on the compacted accounts topic (account_profile.avsc)."""

    RECORD: ClassVar[str] = "account_profile"

    account_id: str
    home_country: str
    updated_at: datetime
    home_lat: float | None = None
    home_lon: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NamedList(AvroConverted):
    """A named allow/deny list, whole, on the compacted lists topic (named_list.avsc)."""

    RECORD: ClassVar[str] = "named_list"

    name: str
    kind: str
    values: tuple[str, ...]
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class MerchantRisk(AvroConverted):
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


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelAnnouncement(AvroConverted):
    """Which registry version plays a role, on the compacted models topic keyed by role
    (model_announcement.avsc). Clearing a role is a tombstone under its key, not a record."""

    RECORD: ClassVar[str] = "model_announcement"

    role: str
    version: str
    announced_at: datetime
    announced_by: str
    forced: bool = False
