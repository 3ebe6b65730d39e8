"""What the job publishes for one hour, from the ledger's counts (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from decision_core.features.merchant import HOUR_MS, HourCounts, window_values
from schemas.records import MerchantRisk


@dataclass(frozen=True, slots=True)
class LedgerCounts:
    """The window's counts: ``counts.merchant`` indexes ``merchant_ids``."""

    merchant_ids: Sequence[str]
    counts: HourCounts

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, int, int, int]]) -> LedgerCounts:
        """From (merchant id, hour, transactions, frauds) rows."""
        listed = list(rows)
        ids = sorted({row[0] for row in listed})
        code = {merchant: i for i, merchant in enumerate(ids)}
        columns = [
            np.array([code[row[0]] for row in listed], dtype=np.int64),
            *(np.array([row[i] for row in listed], dtype=np.int64) for i in (1, 2, 3)),
        ]
        return cls(ids, HourCounts(*columns))


def hour_start(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * HOUR_MS / 1000, UTC)


def records_for_hour(window: LedgerCounts, hour: int, now: datetime) -> dict[str, MerchantRisk]:
    """Every merchant with a non-zero value at ``hour``, as the record to publish."""
    n = len(window.merchant_ids)
    values = window_values(
        window.counts, np.arange(n, dtype=np.int64), np.full(n, hour, dtype=np.int64)
    )
    stamp = hour_start(hour)
    out = {}
    for merchant, row in zip(window.merchant_ids, values.tolist(), strict=True):
        if any(row):
            out[merchant] = MerchantRisk.of(merchant, stamp, row, now)
    return out


def changes(
    held: Iterable[str], current: dict[str, MerchantRisk]
) -> list[tuple[str, MerchantRisk | None]]:
    """Records to publish: every current value (each carries the new hour), and a tombstone
    (None) for each merchant the topic holds a value for that has none now."""
    dropped = sorted(set(held) - current.keys())
    return [*sorted(current.items()), *((merchant, None) for merchant in dropped)]
