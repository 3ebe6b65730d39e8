"""Fraud the published design lacks, injected as extra transactions, each with its own label.

- card testing: a burst of 5-20 tiny online payments (0.10-2.99) minutes apart, at one
  of a few lax shops, from the tester's own device somewhere in the region;
- account takeover: a new device in a far country, one small probe then 1-5 large online
  payments (3-8 x the customer's mean) within hours;
- impossible travel: a cloned card used at a till at least 40 grid units (about 500 km)
  from the customer's home 5-45 minutes after a genuine payment, 1-3 times.
"""

from __future__ import annotations

import numpy as np

from fraudsim.simulate.config import (
    ACCOUNT_TAKEOVER,
    CARD_TESTING,
    DAY_MS,
    IMPOSSIBLE_TRAVEL,
    SimConfig,
)
from fraudsim.simulate.geography import FOREIGN, Ints, to_latlon
from fraudsim.simulate.population import (
    CARD_TESTING_MERCHANTS,
    FOREIGN_MERCHANTS_EACH,
    Customers,
    Merchants,
)
from fraudsim.simulate.rows import Rows

_MINUTE_MS = 60_000
_FAR = 40.0  # grid units


class Injector:
    """Draws the extra incidents; attackers' devices are numbered after the customers'."""

    def __init__(
        self, cfg: SimConfig, customers: Customers, merchants: Merchants, rng: np.random.Generator
    ) -> None:
        self.cfg, self.customers, self.merchants, self.rng = cfg, customers, merchants, rng
        self.next_device = cfg.customers

    def all(self, genuine: Rows) -> list[Rows]:
        return [self.card_testing(), self.takeovers(), self.impossible_travel(genuine)]

    def _starts(self, per_day: int, latest_s: float) -> Ints:
        cfg = self.cfg
        day = np.repeat(np.arange(cfg.days), per_day)
        offset = self.rng.uniform(0, latest_s * 1000, len(day)).astype(np.int64)
        return cfg.start_ms + day * DAY_MS + offset

    def _burst(self, starts: Ints, sizes: Ints, mean_gap_ms: float) -> tuple[Ints, Ints]:
        """Incident of each transaction and its time: gaps ~ Exponential(mean_gap_ms)."""
        incident = np.repeat(np.arange(len(sizes)), sizes)
        if not len(incident):  # a scenario switched off
            return incident, np.zeros(0, dtype=np.int64)
        first = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        gaps = self.rng.exponential(mean_gap_ms, len(incident)).astype(np.int64)
        gaps[first] = 0
        elapsed = np.cumsum(gaps)
        ts = starts[incident] + elapsed - elapsed[first][incident]
        end = self.cfg.start_ms + self.cfg.days * DAY_MS - 1
        return incident, np.minimum(ts, end)

    def _devices(self, n: int) -> Ints:
        devices = np.arange(self.next_device, self.next_device + n, dtype=np.int64)
        self.next_device += n
        return devices

    def card_testing(self) -> Rows:
        rng, n_cust = self.rng, self.cfg.customers
        starts = self._starts(self.cfg.card_testing_per_day, 86_400 - 3_600)
        n = len(starts)
        incident, ts = self._burst(starts, rng.integers(5, 21, n), 30_000)
        lo, _hi = self.merchants.card_testing_range()
        shop = lo + rng.integers(0, CARD_TESTING_MERCHANTS, n)
        lat, lon = to_latlon(rng.uniform(0, 100, n), rng.uniform(0, 100, n))
        return Rows(
            rng.integers(0, n_cust, n)[incident], shop[incident], ts,
            rng.integers(10, 300, len(ts)), lat[incident], lon[incident],
            self._devices(n)[incident], np.full(len(ts), CARD_TESTING),
        )  # fmt: skip

    def takeovers(self) -> Rows:
        rng = self.rng
        starts = self._starts(self.cfg.takeovers_per_day, 86_400 - 6 * 3_600)
        n = len(starts)
        incident, ts = self._burst(starts, rng.integers(2, 7, n), 20 * _MINUTE_MS)
        customer = rng.integers(0, self.cfg.customers, n)[incident]
        where = rng.integers(0, len(FOREIGN), n)
        shops = self.merchants.foreign_start(where)[incident]
        shops += rng.integers(0, FOREIGN_MERCHANTS_EACH, len(ts))
        place = np.array([(f[2], f[3]) for f in FOREIGN])[where][incident]
        lat = np.round(place[:, 0] + rng.normal(0, 0.05, len(ts)), 6)
        lon = np.round(place[:, 1] + rng.normal(0, 0.05, len(ts)), 6)
        large = self.customers.mean_cents[customer] * rng.uniform(3, 8, len(ts))
        probe = np.r_[True, incident[1:] != incident[:-1]]  # each incident's first payment
        cents = np.where(probe, rng.integers(100, 2_000, len(ts)), np.rint(large))
        return Rows(
            customer, shops, ts, cents.astype(np.int64), lat, lon,
            self._devices(n)[incident], np.full(len(ts), ACCOUNT_TAKEOVER),
        )  # fmt: skip

    def impossible_travel(self, genuine: Rows) -> Rows:
        rng, customers = self.rng, self.customers
        n = self.cfg.impossible_travel_per_day * self.cfg.days
        anchors = np.flatnonzero(genuine.scenario == 0)
        if not len(anchors):  # a day without a genuine payment (a tiny population)
            n, anchors = 0, np.zeros(1, dtype=np.int64)
        anchor = rng.choice(anchors, n)
        customer = genuine.customer[anchor]
        starts = genuine.ts_ms[anchor] + rng.integers(5, 46, n) * _MINUTE_MS
        incident, ts = self._burst(starts, rng.integers(1, 4, n), 10 * _MINUTE_MS)
        terminal = self._far_terminals(customer)
        mean, std = customers.mean_cents[customer], customers.std_cents[customer]
        usual = np.abs(rng.normal(mean, std)) * rng.uniform(1, 3, n)
        cents = np.maximum(np.rint(usual), 100).astype(np.int64)[incident]
        return Rows(
            customer[incident], terminal[incident], ts,
            cents, self.merchants.lat[terminal][incident], self.merchants.lon[terminal][incident],
            np.full(len(ts), -1), np.full(len(ts), IMPOSSIBLE_TRAVEL),
        )  # fmt: skip

    def _far_terminals(self, customer: Ints) -> Ints:
        """A terminal at least ``_FAR`` from each customer (the farthest of 64 if none is)."""
        merchants = self.merchants
        candidates = self.rng.integers(0, merchants.terminals, (len(customer), 64))
        dx = merchants.x[candidates] - self.customers.x[customer, None]
        dy = merchants.y[candidates] - self.customers.y[customer, None]
        distance = np.hypot(dx, dy)
        far = distance >= _FAR
        choice = np.where(far.any(axis=1), far.argmax(axis=1), distance.argmax(axis=1))
        chosen: Ints = candidates[np.arange(len(customer)), choice]
        return chosen
