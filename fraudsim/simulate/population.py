"""Customers, terminals and the online merchants fraudsters use, drawn once per simulation.

Customers and terminals follow the published design: uniform on the 100 x 100 grid; a
customer's mean amount ~ U(5, 100) with a standard deviation of half of it and a mean of
U(0, 4) transactions a day; a customer may use every terminal within the radius. Ours on
top: each terminal has a channel (POS, ECOM, ATM) and an MCC, each customer a card token, a
phone (device) and a habit of paying with it at the till.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from fraudsim.simulate.config import SimConfig
from fraudsim.simulate.geography import CITIES, FOREIGN, Floats, Ints, nearest_city, to_latlon

CHANNELS: Final = ("POS", "ECOM", "ATM")
POS, ECOM, ATM = 0, 1, 2
_CHANNEL_SHARES: Final = (0.80, 0.15, 0.05)
_MCC: Final = {
    POS: ("5411", "5812", "5541", "5311", "5999", "5732", "4111", "5912"),
    ECOM: ("5969", "5732", "4722", "5815"),
    ATM: ("6011",),
}
MCCS: Final = tuple(sorted({m for codes in _MCC.values() for m in codes}))
CARD_TESTING_MERCHANTS: Final = 20  # testers reuse a few lax online shops
FOREIGN_MERCHANTS_EACH: Final = 20
_TOKEN_LETTERS: Final = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype="S1")


@dataclass(frozen=True, slots=True)
class Customers:
    x: Floats
    y: Floats
    lat: Floats
    lon: Floats
    mean_cents: Floats
    std_cents: Floats
    per_day: Floats
    wallet_share: Floats  # share of till payments made with the phone (device present)
    tokens: list[str]


@dataclass(frozen=True, slots=True)
class Merchants:
    """Terminals first (index < ``terminals``), then card-testing shops, then foreign shops."""

    terminals: int
    x: Floats  # grid position of terminals (NaN for online shops)
    y: Floats
    lat: Floats
    lon: Floats
    channel: Ints
    mcc: Ints  # index into MCCS
    country: list[str]
    city: list[str]
    ids: list[str]

    def card_testing_range(self) -> tuple[int, int]:
        return self.terminals, self.terminals + CARD_TESTING_MERCHANTS

    def foreign_start(self, foreign_index: Ints) -> Ints:
        """First shop index of each given ``FOREIGN`` country."""
        return self.terminals + CARD_TESTING_MERCHANTS + foreign_index * FOREIGN_MERCHANTS_EACH


def draw_customers(cfg: SimConfig, rng: np.random.Generator) -> Customers:
    n = cfg.customers
    x, y = rng.uniform(0, 100, n), rng.uniform(0, 100, n)
    lat, lon = to_latlon(x, y)
    mean = rng.uniform(5, 100, n) * 100  # in cents
    per_day = rng.uniform(0, 4, n)
    wallet = rng.uniform(0, 0.5, n)
    letters = _TOKEN_LETTERS[rng.integers(0, 26, (n, 20))].view("S20").ravel()
    # Letters only: a token must never contain a digit run that could pass for a PAN.
    tokens = ["tok_" + t.decode() for t in letters]
    return Customers(x, y, lat, lon, mean, mean / 2, per_day, wallet, tokens)


def draw_merchants(cfg: SimConfig, rng: np.random.Generator) -> Merchants:
    t = cfg.terminals
    x, y = rng.uniform(0, 100, t), rng.uniform(0, 100, t)
    lat, lon = to_latlon(x, y)
    channel = rng.choice(3, size=t, p=_CHANNEL_SHARES).astype(np.int64)
    mcc = np.array([MCCS.index(rng.choice(_MCC[int(c)])) for c in channel], dtype=np.int64)
    city_index = nearest_city(lat, lon)
    country = [CITIES[i][0] for i in city_index]
    city = [CITIES[i][1] for i in city_index]
    testing_cities = rng.integers(0, len(CITIES), CARD_TESTING_MERCHANTS)
    country += [CITIES[i][0] for i in testing_cities]
    city += [CITIES[i][1] for i in testing_cities]
    for code, name, _lat, _lon in FOREIGN:
        country += [code] * FOREIGN_MERCHANTS_EACH
        city += [name] * FOREIGN_MERCHANTS_EACH
    online = len(country) - t
    ids = [f"term-{i:05d}" for i in range(t)] + [f"web-{i:04d}" for i in range(online)]
    nan = np.full(online, np.nan)
    return Merchants(
        t,
        np.concatenate([x, nan]),
        np.concatenate([y, nan]),
        np.concatenate([lat, nan]),
        np.concatenate([lon, nan]),
        np.concatenate([channel, np.full(online, ECOM)]),
        np.concatenate([mcc, np.full(online, MCCS.index("5969"))]),
        country,
        city,
        ids,
    )


def reachable_terminals(
    customers: Customers, merchants: Merchants, radius: float
) -> tuple[Ints, Ints]:
    """Terminals within ``radius`` of each customer as CSR arrays (indptr, indices).

    A k-d tree of the terminals finds each customer's candidates (scipy's, a slightly wider
    radius), then the same test the published design states, ``dx² + dy² < radius²``, decides:
    the same pairs, in the same order, as comparing every customer with every terminal,
    which took minutes at half a million customers (O(customers × terminals)).
    """
    tx, ty = merchants.x[: merchants.terminals], merchants.y[: merchants.terminals]
    terminals = cKDTree(np.column_stack([tx, ty]))
    counts: list[npt.NDArray[np.int64]] = []
    found: list[npt.NDArray[np.int64]] = []
    chunk = 65_536  # bounds the candidate pairs held at once (~40 a customer at the defaults)
    for lo in range(0, len(customers.x), chunk):
        cx, cy = customers.x[lo : lo + chunk], customers.y[lo : lo + chunk]
        near = cKDTree(np.column_stack([cx, cy])).sparse_distance_matrix(
            terminals, radius * (1 + 1e-6), output_type="ndarray"
        )
        rows, cols = near["i"].astype(np.int64), near["j"].astype(np.int64)
        dx, dy = cx[rows] - tx[cols], cy[rows] - ty[cols]
        inside = dx * dx + dy * dy < radius * radius
        rows, cols = rows[inside], cols[inside]
        order = np.lexsort((cols, rows))  # by customer, then terminal: row-major, as before
        counts.append(np.bincount(rows, minlength=len(cx)).astype(np.int64))
        found.append(cols[order])
    indptr = np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int64)
    return indptr, np.concatenate(found)
