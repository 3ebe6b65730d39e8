"""Checks and conversions at the edge between record fields and fastavro's logical types."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from schemas.errors import InvalidRecord

AMOUNT_PRECISION = 18
AMOUNT_SCALE = 4
_AMOUNT_QUANTUM = Decimal(1).scaleb(-AMOUNT_SCALE)
_AMOUNT_LIMIT = Decimal(10) ** (AMOUNT_PRECISION - AMOUNT_SCALE)


def avro_amount(amount: Decimal) -> Decimal:
    """`amount` as decimal(18, 4) will hold it exactly, or InvalidRecord."""
    # fastavro checks the digit count and the scale, but scales 1E+20 up silently past
    # precision 18 and fails on NaN with a bare TypeError; both must be InvalidRecord.
    exponent = amount.as_tuple().exponent
    if not isinstance(exponent, int):
        raise InvalidRecord(f"amount {amount} is not a finite number")
    if abs(amount) >= _AMOUNT_LIMIT:
        raise InvalidRecord(f"amount {amount} exceeds decimal({AMOUNT_PRECISION}, {AMOUNT_SCALE})")
    if exponent < -AMOUNT_SCALE:
        # Trailing zeros (1.500000) are exact and fine; real extra digits are refused, not rounded.
        quantized = amount.quantize(_AMOUNT_QUANTUM)
        if quantized != amount:
            raise InvalidRecord(f"amount {amount} has more than {AMOUNT_SCALE} decimal places")
        return quantized
    return amount


def aware(moment: datetime) -> datetime:
    """`moment`, refused if naive."""
    # fastavro would write a naive datetime as local time: a silent, host-dependent shift.
    if moment.tzinfo is None:
        raise InvalidRecord(f"naive datetime {moment.isoformat()}: use a timezone-aware one")
    return moment


def aware_or_none(moment: datetime | None) -> datetime | None:
    """`aware` for a nullable field."""
    return None if moment is None else aware(moment)
