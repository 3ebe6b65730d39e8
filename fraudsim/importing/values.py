"""Reading one source value as a contract field's value: text, amounts, numbers, times, labels.

Each parser takes what the source holds (text from a CSV, typed values from Parquet) and
returns the field's value, or raises ``ValueError`` with a message that names the field and
the value (card numbers masked): a parse error rejects its row like a validation problem.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from fraudsim.importing.mapping import TimeFormat
from fraudsim.tables import EPOCH
from schemas.pan import mask_pans

_MS: Final = timedelta(milliseconds=1)
_DECIMAL: Final = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_INTEGER: Final = re.compile(r"[+-]?[0-9]+")


def shown(value: Any) -> str:
    """A value as a rejection reason quotes it: short, and never a card number in clear."""
    text = repr(value if not isinstance(value, bytes) else value.decode(errors="replace"))
    return mask_pans(text if len(text) <= 42 else text[:40] + "…'")


def text(value: Any) -> str | None:
    """Source text, or None for a missing value (null, or an empty CSV cell)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        try:
            value = value.decode()
        except UnicodeDecodeError as exc:
            raise ValueError("is not valid UTF-8 text (see [source] encoding)") from exc
    return str(value) if value != "" else None


def decimal_parser(decimal_separator: str, thousands_separator: str) -> Callable[[Any], Decimal]:
    """A parser of decimal numbers written with the given separators (also exact Parquet
    decimals and integers)."""

    def parse(value: Any) -> Decimal:
        if isinstance(value, Decimal | int) and not isinstance(value, bool):
            return Decimal(value)
        if isinstance(value, float):
            return Decimal(repr(value))
        raw = (text(value) or "").strip()
        if thousands_separator:
            raw = raw.replace(thousands_separator, "")
        raw = raw.replace(decimal_separator, ".")
        if not _DECIMAL.fullmatch(raw):
            raise ValueError(f"{shown(value)} is not a decimal number")
        return Decimal(raw)

    return parse


def minor_units(value: Any) -> Decimal:
    """An integer count of the currency's minor units (cents), scaled by the caller."""
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raw = (text(value) or "").strip()
    if not _INTEGER.fullmatch(raw):
        raise ValueError(f"{shown(value)} is not a whole number of minor units")
    return Decimal(raw)


def number_parser(decimal_separator: str) -> Callable[[Any], float | None]:
    """Coordinates: a float, written with the amount's decimal separator; None if missing."""

    def parse(value: Any) -> float | None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raw = text(value)
        if raw is None:
            return None
        try:
            return float(raw.strip().replace(decimal_separator, "."))
        except ValueError:
            raise ValueError(f"{shown(value)} is not a number") from None

    return parse


def time_parser(fmt: TimeFormat) -> Callable[[Any], int]:
    """Epoch milliseconds of a time written in ``fmt`` (Parquet timestamps as they are)."""
    if fmt.pattern in ("epoch_s", "epoch_ms"):
        scale = 1000 if fmt.pattern == "epoch_s" else 1

        def epoch(value: Any) -> int:
            if isinstance(value, datetime):
                return _aware_ms(value, fmt, value)
            raw = value if isinstance(value, int | float) else (text(value) or "").strip()
            try:
                return int(Decimal(raw) * scale) if not isinstance(raw, int) else raw * scale
            except (ArithmeticError, ValueError):
                raise ValueError(f"{shown(value)} is not {fmt.pattern} time") from None

        return epoch

    def parse(value: Any) -> int:
        if isinstance(value, datetime):
            return _aware_ms(value, fmt, value)
        raw = (text(value) or "").strip()
        try:
            if fmt.pattern == "iso8601":
                moment = datetime.fromisoformat(raw)
            else:
                moment = datetime.strptime(raw, fmt.pattern)  # noqa: DTZ007 - zone added below
        except ValueError:
            raise ValueError(f"{shown(value)} does not match {fmt.pattern}") from None
        return _aware_ms(moment, fmt, value)

    return parse


def _aware_ms(moment: datetime, fmt: TimeFormat, value: Any) -> int:
    if moment.tzinfo is None:
        if fmt.zone is None:
            raise ValueError(f"{shown(value)} has no UTC offset and the mapping no timezone")
        moment = moment.replace(tzinfo=fmt.zone)
    return (moment - EPOCH) // _MS
