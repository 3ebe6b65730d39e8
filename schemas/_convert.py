"""Checks at the edge between record fields and fastavro's logical types: what fastavro
would write silently wrong (a naive time as local time) or fail on with a bare error."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from schemas.errors import InvalidRecord

# The scale of transaction.avsc's amount, decimal(18, 4), for code that rounds to it
# (schemas.fingerprint); the conversion reads precision and scale from the schema itself.
AMOUNT_SCALE = 4


def decimal_check(field: str, precision: int, scale: int) -> Callable[[Decimal], Decimal]:
    """A check that a Decimal fits decimal(`precision`, `scale`) exactly, or InvalidRecord."""
    quantum = Decimal(1).scaleb(-scale)
    limit = Decimal(10) ** (precision - scale)

    def check(amount: Decimal) -> Decimal:
        # fastavro checks the digit count and the scale, but scales 1E+20 up silently past
        # the precision and fails on NaN with a bare TypeError; both must be InvalidRecord.
        try:
            exponent = amount.as_tuple().exponent
        except AttributeError:
            raise InvalidRecord(f"{field}: {type(amount).__name__} is no Decimal") from None
        if not isinstance(exponent, int):
            raise InvalidRecord(f"{field} {amount} is not a finite number")
        if abs(amount) >= limit:
            raise InvalidRecord(f"{field} {amount} exceeds decimal({precision}, {scale})")
        if exponent < -scale:
            # Trailing zeros (1.500000) are exact and fine; real extra digits are refused.
            quantized = amount.quantize(quantum)
            if quantized != amount:
                raise InvalidRecord(f"{field} {amount} has more than {scale} decimal places")
            return quantized
        return amount

    return check


def aware_check(field: str, *, nullable: bool = False) -> Callable[[Any], datetime | None]:
    """A check that a value is a timezone-aware datetime (or None if `nullable`), or
    InvalidRecord."""

    def check(moment: Any) -> datetime | None:
        if moment is None and nullable:
            return None
        if not isinstance(moment, datetime):
            raise InvalidRecord(f"{field}: {type(moment).__name__} is no datetime")
        # fastavro would write a naive datetime as local time: a silent, host-dependent shift.
        if moment.tzinfo is None:
            raise InvalidRecord(
                f"{field}: naive datetime {moment.isoformat()}: use a timezone-aware one"
            )
        return moment

    return check
