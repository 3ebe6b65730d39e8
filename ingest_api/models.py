"""The public JSON contract of the API: strict request models and response bodies."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyAddress,
    JsonValue,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from schemas.enums import Channel, LabelKind, Outcome, TxType
from schemas.pan import contains_pan
from schemas.records import Transaction
from schemas.validation import (
    COUNTRIES,
    CURRENCY_EXPONENT,
    TimeWindow,
    amount_problem,
    card_token_problem,
    country_problem,
    currency_problem,
    format_character_problem,
    time_problem,
)

Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$")
]
# A decimal string: digits, optionally a point and up to four decimals. Never a JSON number:
# floats cannot hold money exactly.
AmountText = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,14}(\.[0-9]{1,4})?$")]


def no_format_characters(value: str) -> str:
    """Refuse Unicode format characters (category Cf): bidi overrides and isolates,
    zero-width spaces and joiners, soft hyphens. They make text display unlike what it
    holds (a rule name that reads backwards, a city that looks like another), in the
    console, in logs and in an analyst's spreadsheet.
    """
    problem = format_character_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


# Free text that PostgreSQL can store and a log line can show: no NUL, no control characters
# (C0, DEL, C1), no format characters.
PrintableText = Annotated[
    str,
    StringConstraints(pattern=r"^[^\x00-\x1f\x7f-\x9f]*$"),
    AfterValidator(no_format_characters),
]
# Multi-line text (rule expressions, descriptions): tabs and newlines allowed, never NUL.
MultilineText = Annotated[
    str,
    StringConstraints(pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"),
    AfterValidator(no_format_characters),
]

# Zero written any way the amount pattern allows ("0", "000.00"): refused, stated in the schema.
ZERO_AMOUNT = r"^0+(\.0+)?$"

__all__ = ["COUNTRIES", "CURRENCY_EXPONENT"]  # re-exported: the checks live in schemas
_T = TypeVar("_T")


def _enum(codes: Iterable[str]) -> list[JsonValue]:
    """A code list as the schema's ``enum``, sorted so the committed document is stable."""
    return list(sorted(codes))


class ValidationContext(BaseModel):
    """Bounds that depend on the clock and the settings, passed to validation."""

    now: datetime
    max_future_skew_s: int
    max_age_days: int


class TransactionIn(BaseModel):
    """A card transaction as a gateway sends it. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    transaction_id: uuid.UUID
    account_id: Identifier
    card_token: Annotated[
        str, StringConstraints(min_length=8, max_length=128, pattern=r"^[\x21-\x7e]+$")
    ] = Field(description="A token standing for the card; a card number (PAN) is refused.")
    amount: AmountText = Field(
        description='Decimal string such as "42.50", greater than zero, with no more decimals'
        " than the currency's minor unit (JPY 0, INR 2, BHD 3).",
        json_schema_extra={"not": {"pattern": ZERO_AMOUNT}},
    )
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(
        description="An ISO 4217 currency code.",
        json_schema_extra={"enum": _enum(CURRENCY_EXPONENT)},
    )
    merchant_id: Identifier
    mcc: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")] | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = Field(
        description="An ISO 3166-1 alpha-2 country code.",
        json_schema_extra={"enum": _enum(COUNTRIES)},
    )
    city: Annotated[PrintableText, StringConstraints(min_length=1, max_length=100)] | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    channel: Channel
    device_id: Annotated[PrintableText, StringConstraints(min_length=1, max_length=128)] | None = (
        None
    )
    ip: IPvAnyAddress | None = None
    timestamp: AwareDatetime = Field(
        description="RFC 3339 with an offset, within the server's window: at most"
        " SENTINEL_API_MAX_AGE_DAYS (90) days old and SENTINEL_API_MAX_FUTURE_SKEW_S (300)"
        " seconds ahead of its clock. The window moves with the clock, so it is stated here"
        " and in x-sentinel-window, not as fixed bounds.",
        json_schema_extra={"x-sentinel-window": {"max_age_days": 90, "max_future_skew_s": 300}},
    )
    type: TxType

    # The checks are schemas.validation's, shared with the agents' Kafka path.
    @field_validator("card_token")
    @classmethod
    def _not_a_card_number(cls, value: str) -> str:
        return _ok(value, card_token_problem(value))

    @field_validator("account_id", "merchant_id", "city", "device_id")
    @classmethod
    def _no_card_number_in_text(cls, value: str | None) -> str | None:
        if value is not None and contains_pan(value):
            raise ValueError("holds a card number (PAN); card numbers are never stored")
        return value

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        return _ok(value, currency_problem(value))

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        return _ok(value, country_problem(value))

    @field_validator("timestamp")
    @classmethod
    def _plausible_time(cls, value: datetime, info: ValidationInfo) -> datetime:
        ctx = info.context
        if isinstance(ctx, ValidationContext):
            window = TimeWindow(ctx.max_future_skew_s, ctx.max_age_days)
            return _ok(value, time_problem(value, ctx.now, window))
        return value

    @model_validator(mode="after")
    def _amount_fits_currency(self) -> TransactionIn:
        return _ok(self, amount_problem(Decimal(self.amount), self.currency))

    def to_record(self, ingested_at: datetime, idempotency_key: str | None) -> Transaction:
        return Transaction(
            transaction_id=str(self.transaction_id),
            account_id=self.account_id,
            card_token=self.card_token,
            amount=Decimal(self.amount),
            currency=self.currency,
            merchant_id=self.merchant_id,
            mcc=self.mcc,
            country=self.country,
            city=self.city,
            lat=self.lat,
            lon=self.lon,
            channel=self.channel,
            device_id=self.device_id,
            ip=str(self.ip) if self.ip is not None else None,
            timestamp=self.timestamp.astimezone(UTC),
            type=self.type,
            ingested_at=ingested_at,
            idempotency_key=idempotency_key,
        )


def _ok(value: _T, problem: str | None) -> _T:
    if problem is not None:
        raise ValueError(problem)
    return value


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    transactions: list[dict[str, Any]] = Field(min_length=1)


class Accepted(BaseModel):
    transaction_id: str
    status: Literal["accepted"] = "accepted"
    decision_url: str


class BatchItemResult(BaseModel):
    index: int
    transaction_id: str | None
    status: Literal["accepted", "rejected"]
    decision_url: str | None = None
    error: dict[str, Any] | None = None


class BatchAccepted(BaseModel):
    accepted: int
    rejected: int
    results: list[BatchItemResult]


class AuthorizeOut(BaseModel):
    transaction_id: str
    decision_id: str | None
    outcome: Outcome
    risk_score: float | None
    reasons: list[str]
    fallback: bool = Field(description="True when no decision came within the deadline.")
    elapsed_ms: float


class LabelAccepted(BaseModel):
    """A label as published on the labels topic (times at the millisecond the wire holds)."""

    transaction_id: str
    account_id: str
    merchant_id: str
    kind: LabelKind
    is_fraud: bool
    reason: str | None
    labelled_at: datetime
    transaction_timestamp: datetime


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class TransactionOut(BaseModel):
    transaction_id: str
    account_id: str
    card_token: str
    amount: str
    currency: str
    merchant_id: str
    mcc: str | None
    country: str
    city: str | None
    lat: float | None
    lon: float | None
    channel: Channel
    device_id: str | None
    ip: str | None
    timestamp: str
    type: TxType
    ingested_at: str | None


class RuleHitOut(BaseModel):
    rule_id: str
    version: int
    action: str


class DecisionOut(BaseModel):
    decision_id: str
    transaction_id: str
    account_id: str
    outcome: Outcome
    risk_score: float
    model_version: str | None
    challenger_model_version: str | None = Field(
        description="The challenger model that scored in shadow; null when none was announced."
    )
    challenger_score: float | None = Field(
        description="The challenger's score, recorded for comparison only: it never decides."
    )
    rules_fired: list[RuleHitOut]
    shadow_rules_fired: list[RuleHitOut]
    reason_codes: list[dict[str, Any]]
    features: dict[str, float]
    ingested_at: str
    decided_at: str


class HistoryItem(TransactionOut):
    outcome: Outcome | None
    risk_score: float | None


class HistoryPage(BaseModel):
    items: list[HistoryItem]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page.")


class BalanceOut(BaseModel):
    account_id: str
    balance: str
    currency: str
    updated_at: str
