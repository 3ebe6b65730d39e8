"""Merchant (terminal) risk: the one definition training, the hourly job and the agents share.

For a transaction at merchant ``m`` in UTC hour ``h`` (epoch ms // 3,600,000) and each
``w`` in 1, 7, 30 days:

- ``merchant_tx_{w}d``: transactions at ``m`` (all accounts) in hours [h-168-24w, h-168),
  i.e. the ``w`` days ending one week (plus the part of the hour gone) before;
- ``merchant_risk_{w}d``: the share of those with a fraud label known before hour ``h``
  began (its ``labelled_at``); 0 when there were none;
- ``merchant_recent_tx_{w}d`` and ``merchant_recent_risk_{w}d``: the same over hours
  [h-24w, h), the ``w`` days ending at the hour. No week's delay: a label counts as soon as
  it has arrived, so a compromised terminal shows within a day or two of its first reported
  fraud instead of after a week (issue 21: test AP 0.706 -> 0.814, CP@100 0.300 -> 0.356 on
  the published design, ``bench/model_levers.py``).

``window_values`` computes them from per-(merchant, hour) counts: training hands it one row
per transaction (count 1, fraud 0/1), the hourly job (``stream_agents.merchant_risk``) the
counts its one SQL query groups from the ledger. The values depend only on (merchant, hour),
so the job publishes them once an hour, stamped with the hour, and ``merchant_features``
is the agents' side: the stamp policy that decides whether a published value applies to a
transaction's hour.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt

from schemas.features import MERCHANT_FEATURE_NAMES, MERCHANT_WINDOW_DAYS

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

HOUR_MS: Final = 3_600_000
DELAY_HOURS: Final = 7 * 24
# Hours before h that any window reaches back to: the job reads no older transactions.
LOOKBACK_HOURS: Final = DELAY_HOURS + 24 * max(MERCHANT_WINDOW_DAYS)
# Keys are merchant * _SPAN + hour + LOOKBACK_HOURS: windows never reach another merchant.
_SPAN: Final = 1 << 32
# The stamp policy (``applies``): how far a value's hour may be behind / ahead of a
# transaction's hour and still stand for it.
MAX_AGE_HOURS: Final = 2
MAX_LEAD_HOURS: Final = 1
ZEROS: Final = (0.0,) * len(MERCHANT_FEATURE_NAMES)
ZERO_FEATURES: Final[Mapping[str, float]] = MappingProxyType(
    dict.fromkeys(MERCHANT_FEATURE_NAMES, 0.0)
)


@dataclass(frozen=True, slots=True)
class HourCounts:
    """Transactions and frauds per (merchant code, hour): parallel int64 arrays.

    ``known_from``: per entry, the first hour whose values may count its frauds (the hour
    after its label arrived). The job's counts need none: its query already counts only the
    labels the ledger had before the hour (None). Training's per-transaction entries carry
    it, because a label may arrive after the week's delay (a chargeback weeks later): such
    a fraud counts for the hours from its arrival on, never before.
    """

    merchant: Ints
    hour: Ints
    transactions: Ints
    frauds: Ints
    known_from: Ints | None = None

    @classmethod
    def per_transaction(
        cls,
        merchant: Ints,
        ts_ms: Ints,
        fraud: npt.NDArray[np.bool_],
        labelled_at_ms: Ints,
    ) -> HourCounts:
        """One entry per transaction (what training has), a fraud known from the hour after
        its ``labelled_at`` (the job counts labels with ``labelled_at`` before the hour)."""
        ones = np.ones(len(merchant), dtype=np.int64)
        known_from = labelled_at_ms // HOUR_MS + 1
        return cls(merchant, ts_ms // HOUR_MS, ones, fraud.astype(np.int64), known_from)


def window_values(counts: HourCounts, merchant: Ints, hour: Ints) -> Floats:
    """The features of each query (merchant code, hour), columns in
    ``MERCHANT_FEATURE_NAMES`` order (counts as floats). Hours must be non-negative.

    The counts are put in key order and summed once, and the queries sorted once, for both
    window sets: every search then runs over sorted needles (several times faster than
    unsorted ones on a training set's 1.8 M queries)."""
    if any(len(h) and int(h.min()) < 0 for h in (hour, counts.hour)):
        raise ValueError("hours must be non-negative")
    keys = counts.merchant * _SPAN + counts.hour + LOOKBACK_HOURS
    order = np.argsort(keys, kind="stable")
    # *_before[i]: totals over the first i entries in key order.
    totals = _Totals(
        keys[order],
        np.concatenate([[0], np.cumsum(counts.transactions[order])]),
        np.concatenate([[0], np.cumsum(counts.frauds[order])]),
    )
    query = merchant * _SPAN + hour + LOOKBACK_HOURS
    asked = np.argsort(query, kind="stable")
    found = np.hstack([_windows(totals, counts, query[asked], delay) for delay in (DELAY_HOURS, 0)])
    out = np.empty_like(found)
    out[asked] = found
    return out


@dataclass(frozen=True, slots=True)
class _Totals:
    """The counts' keys in order, and the transactions and frauds before each position."""

    keys: Ints
    tx_before: Ints
    fraud_before: Ints


def _windows(totals: _Totals, counts: HourCounts, query: Ints, delay_hours: int) -> Floats:
    """The tx/risk pair of every window ending ``delay_hours`` before each query's hour
    (``query``: the queries' keys, sorted)."""
    end = query - delay_hours
    upper = np.searchsorted(totals.keys, end, side="left")
    out = np.empty((len(query), 2 * len(MERCHANT_WINDOW_DAYS)), dtype=np.float64)
    for i, days in enumerate(MERCHANT_WINDOW_DAYS):
        lower = np.searchsorted(totals.keys, end - 24 * days, side="left")
        n = totals.tx_before[upper] - totals.tx_before[lower]
        unknown = _unknown(counts, query, days, delay_hours)
        bad = totals.fraud_before[upper] - totals.fraud_before[lower] - unknown
        out[:, 2 * i] = n
        out[:, 2 * i + 1] = np.divide(bad, n, out=np.zeros(len(n)), where=n > 0)
    return out


def _unknown(counts: HourCounts, query: Ints, days: int, delay: int) -> Ints:
    """Per query (sorted keys), the frauds of its ``days`` window whose label came too late
    for its hour.

    A fraud of hour ``t`` is in the window of hours ``h`` in [t+delay+1, t+delay+24*days];
    it is unknown there for ``h`` below its ``known_from``. Only labels later than the delay
    leave such hours, so only those entries are walked: a difference array over the sorted
    queries, +1 where each one's unknown hours begin and -1 after they end.
    """
    if counts.known_from is None:
        return np.zeros(len(query), dtype=np.int64)
    first = counts.hour + delay + 1
    last = np.minimum(counts.known_from - 1, counts.hour + delay + 24 * days)
    late = np.flatnonzero((counts.frauds > 0) & (last >= first))
    if not len(late):
        return np.zeros(len(query), dtype=np.int64)
    at = counts.merchant[late] * _SPAN + LOOKBACK_HOURS
    begin = np.searchsorted(query, at + first[late], side="left")
    end = np.searchsorted(query, at + last[late], side="right")
    steps = np.zeros(len(query) + 1, dtype=np.int64)
    np.add.at(steps, begin, counts.frauds[late])
    np.add.at(steps, end, -counts.frauds[late])
    unknown: Ints = np.cumsum(steps[:-1])
    return unknown


@dataclass(frozen=True, slots=True)
class MerchantValues:
    """What an agent holds per merchant: the hour the values were computed for, and them."""

    hour: int
    values: tuple[float, ...]
    # Built once when the record arrives, not once per transaction (the hot path).
    features: Mapping[str, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        named = dict(zip(MERCHANT_FEATURE_NAMES, self.values, strict=True))
        object.__setattr__(self, "features", MappingProxyType(named))

    @property
    def is_zero(self) -> bool:
        return not any(self.values)


def applies(stamp_hour: int, tx_hour: int) -> bool:
    """Whether values stamped for ``stamp_hour`` stand for a transaction of ``tx_hour``.

    Normally the stamp equals the transaction's hour. Up to MAX_AGE_HOURS older covers the
    seconds after each top of the hour before the job has published, and a job that missed
    an hour; up to MAX_LEAD_HOURS newer covers a transaction arriving late across the hour.
    Anything further apart is stale (the job is down, or a replay of old traffic): zeros, as
    for a merchant without history, rather than another period's values.
    """
    return -MAX_LEAD_HOURS <= tx_hour - stamp_hour <= MAX_AGE_HOURS


def merchant_features(held: MerchantValues | None, tx_ts_ms: int) -> Mapping[str, float]:
    """The merchant-risk features of a transaction at ``tx_ts_ms`` given what is held
    (read-only: the caller copies them into its own features)."""
    if held is None or not applies(held.hour, tx_ts_ms // HOUR_MS):
        return ZERO_FEATURES
    return held.features
