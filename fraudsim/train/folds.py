"""Prequential validation as published: train on a week, wait a week, test the next week.

For a fold starting on day ``S``: train on days [S, S+T); test on days [S+T+D, S+T+D+E).
On test day ``S+T+D+k`` the frauds of days [S+T-7, S+T+k) are known (labels arrive within
the delay D), so the cards they touched would already be blocked: their transactions are
dropped from that test day (with the published 7 training days, [S, S+T+k)). Folds are
shifted back by a week from a start day, so the latest fold ends where the first one's test
week would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Protocol:
    """Window lengths in days and how many folds, one ``shift`` apart."""

    train_days: int = 7
    delay_days: int = 7
    test_days: int = 7
    folds: int = 4
    shift_days: int = 7
    # The published protocol drops from each test day the cards with a fraud of the 7 days
    # before the delay or later; a longer training window keeps that test set (comparable).
    known_days: int = 7

    @property
    def span(self) -> int:
        """Days one fold covers from its first training day to its last test day."""
        return self.train_days + self.delay_days + self.test_days

    def starts(self, latest_start: int) -> list[int]:
        starts = [latest_start - i * self.shift_days for i in range(self.folds)]
        if min(starts) < 0:
            raise ValueError(f"fold starts {starts} begin before the data does")
        return starts


@dataclass(frozen=True, slots=True)
class Fold:
    start: int
    train: Ints  # row indices
    test: Ints


def make_fold(day: Ints, account: Ints, fraud: Bools, start: int, protocol: Protocol) -> Fold:
    t, d, e = protocol.train_days, protocol.delay_days, protocol.test_days
    train = np.flatnonzero((day >= start) & (day < start + t))
    # First day from S on when each account had a fraud (a large value for none).
    first = np.full(int(account.max()) + 1 if len(account) else 0, np.iinfo(np.int64).max)
    hit = fraud & (day >= start + t - protocol.known_days)
    np.minimum.at(first, account[hit], day[hit])
    in_test = (day >= start + t + d) & (day < start + t + d + e)
    # Test day S+T+D+k knows the frauds of days before S+T+k, i.e. before day - D.
    known = first[account] < day - d
    return Fold(start, train, np.flatnonzero(in_test & ~known))


def latest_start(days: int, protocol: Protocol, published_start: int = 115) -> int:
    """The published test folds' latest start (2018-07-25, day 115 of the reference data)
    when the data is long enough, else the latest start whose test week fits."""
    fitting = days - protocol.span
    return min(published_start, fitting)
