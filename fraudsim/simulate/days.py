"""The simulation as an endless series of days: one population, fraud carried from day to day.

``simulate`` draws a whole period at once (the offline data set); ``Days`` draws the same
model one day at a time for as long as it is asked (the demo's live traffic), holding only
the population, one day's rows and the scenarios' state, however long it runs. A day is made
of the same parts as a period: ``genuine_rows``, the reference scenarios and the ``Injector``,
each called on a one-day configuration. What differs is only what a period can see and a day
cannot:

- scenario 2 and 3 compromises last beyond the day that drew them, so they are kept as state
  (the day each compromised terminal or card is clean again) and the state starts as if the
  scenarios had already run ``terminal_days`` days, so the first day is no different from
  the hundredth;
- a compromised card's payments are fraud each with probability ``STOLEN_SHARE`` (a period
  picks exactly that share of the card's window, which a day cannot see the end of);
- customers' phones are fixed by the seed (a period names them after its rows); attackers'
  devices are new each day.

The population comes from ``cfg.seed`` exactly as in ``simulate`` (the same customers,
terminals and card tokens for the same seed and sizes); everything a day draws comes from a
per-run seed, random unless given, so transaction ids never repeat across runs.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import numpy as np

from fraudsim.simulate.config import COMPROMISED_TERMINAL, SimConfig
from fraudsim.simulate.dataset import (
    SimulatedData,
    canonical_order,
    device_names,
    label_times,
    uuid_strings,
)
from fraudsim.simulate.extra import Injector
from fraudsim.simulate.population import draw_customers, draw_merchants, reachable_terminals
from fraudsim.simulate.reference import (
    STOLEN_SHARE,
    cards_compromised,
    genuine_rows,
    mark_large_amounts,
    steal,
    terminals_compromised,
)
from fraudsim.simulate.rows import Rows


class Days:
    """Day after day of ``cfg``'s population from ``cfg.start`` on (``cfg.days`` is unused)."""

    def __init__(self, cfg: SimConfig, run_seed: int | None = None) -> None:
        # spawn(6) begins with the five streams ``simulate`` spawns: the same population.
        population, *_period, phones = np.random.default_rng(cfg.seed).spawn(6)
        self.cfg = cfg
        self.customers = draw_customers(cfg, population)
        self.merchants = draw_merchants(cfg, population)
        self.reachable = reachable_terminals(self.customers, self.merchants, cfg.radius)
        self.phones = device_names(phones, cfg.customers)
        self.run_seed = secrets.randbits(128) if run_seed is None else run_seed
        self._rows, self._fraud, self._extra, self._ids = np.random.default_rng(
            self.run_seed
        ).spawn(4)
        # The first day on which each terminal / card is clean again (0: never compromised).
        self.terminal_until = np.zeros(cfg.terminals, dtype=np.int64)
        self.card_until = np.zeros(cfg.customers, dtype=np.int64)
        for day in range(-max(cfg.terminal_days, cfg.card_days), 0):
            self._compromise(day)
        self.next_day = 0

    def __iter__(self) -> Iterator[SimulatedData]:
        while True:
            yield self.day()

    def day(self) -> SimulatedData:
        """The next day's transactions in canonical order, with their label times."""
        day, cfg = self.next_day, self.cfg
        self.next_day += 1
        one = replace(cfg, start=cfg.start + timedelta(days=day), days=1)
        self._compromise(day)
        genuine = genuine_rows(one, self.customers, self.merchants, self.reachable, self._rows)
        mark_large_amounts(genuine)
        genuine.scenario[self.terminal_until[genuine.merchant] > day] = COMPROMISED_TERMINAL
        stolen = (self.card_until[genuine.customer] > day) & (
            self._fraud.random(len(genuine)) < STOLEN_SHARE
        )
        steal(genuine, np.flatnonzero(stolen))
        injector = Injector(one, self.customers, self.merchants, self._extra)
        rows, raw = canonical_order(Rows.concat([genuine, *injector.all(genuine)]), self._ids)
        attackers = device_names(self._ids, injector.next_device - cfg.customers)
        return SimulatedData(
            one,
            self.customers,
            self.merchants,
            rows,
            uuid_strings(raw),
            self.phones + attackers,
            label_times(one, rows, self._ids),
        )

    def _compromise(self, day: int) -> None:
        cfg = self.cfg
        for terminal in terminals_compromised(cfg, self._fraud):
            self.terminal_until[terminal] = max(
                self.terminal_until[terminal], day + cfg.terminal_days
            )
        for card in cards_compromised(cfg, self._fraud):
            self.card_until[card] = max(self.card_until[card], day + cfg.card_days)
