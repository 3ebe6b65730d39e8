"""A transaction's content hash: what tells a redelivery from a reused transaction id.

The same ``transaction_id`` may arrive more than once: a gateway's retry, a redelivery after
a crash, a replay. That is harmless when the content is the same, and must be refused when
it is not (issue 18, item 8). The API and the agents (``schemas.transaction_claims``) and the
ledger sink (``ledger_sink.conflicts``) compare this hash, so all must compute it from the same
canonical form: the fields a gateway sends, in ``CANONICAL_FIELDS`` order, each normalised
the way the contract stores it (amounts at 4 decimals, times in UTC milliseconds, enums as
their values). ``ingested_at`` and ``idempotency_key`` are left out: a retry changes them,
not the transaction. The sink recomputes it from a ``transactions`` row, whose columns hold
exactly these fields.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final

from schemas._convert import AMOUNT_SCALE
from schemas.records import Transaction

CANONICAL_FIELDS: Final = (
    "transaction_id", "account_id", "card_token", "amount", "currency", "merchant_id",
    "merchant_name", "mcc", "country", "city", "lat", "lon", "channel", "device_id", "ip",
    "timestamp", "type",
)  # fmt: skip
_QUANTUM: Final = Decimal(1).scaleb(-AMOUNT_SCALE)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)


def transaction_fingerprint(tx: Transaction) -> str:
    """The SHA-256 (hex) of ``tx``'s canonical content."""
    return canonical_fingerprint([getattr(tx, name) for name in CANONICAL_FIELDS])


def canonical_fingerprint(values: Sequence[object]) -> str:
    """The fingerprint of the values of ``CANONICAL_FIELDS``, in that order (a stored row)."""
    if len(values) != len(CANONICAL_FIELDS):
        raise ValueError(f"expected {len(CANONICAL_FIELDS)} values, got {len(values)}")
    text = json.dumps([_canonical(v) for v in values], separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _canonical(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value.quantize(_QUANTUM))  # 25, 25.0 and 25.0000 are the same amount
    if isinstance(value, datetime):
        return (value - _EPOCH) // _MS  # the wire keeps milliseconds (timestamp-millis)
    if isinstance(value, str):
        return str(value)  # an enum member as its value
    if value is None or isinstance(value, int | float):
        return value
    raise TypeError(f"no canonical form for {type(value).__name__}")
