"""The published design's genuine transactions and its three fraud scenarios, vectorised.

Per customer and day: a Poisson(mean) count; each transaction's time of day ~ Normal(12:00,
20,000 s), draws outside the day dropped; amount ~ Normal(mean, sd), a negative draw
replaced by U(0, 2 x mean), rounded to cents; the terminal uniform among the reachable
ones. Then, in order: (1) any amount above 220 is fraud; (2) each day 2 random terminals
are compromised and all their transactions in the next 28 days are fraud; (3) each day 3
random customers are compromised and, over the next 14 days, a third of their
transactions get 5 x the amount and are fraud. A later scenario relabels an earlier one.
"""

from __future__ import annotations

import numpy as np

from fraudsim.simulate.config import (
    COMPROMISED_CARD,
    COMPROMISED_TERMINAL,
    DAY_MS,
    LARGE_AMOUNT,
    SimConfig,
)
from fraudsim.simulate.geography import Floats, Ints
from fraudsim.simulate.population import ATM, ECOM, Customers, Merchants
from fraudsim.simulate.rows import Rows

LARGE_CENTS = 22_000
STOLEN_CARD_FACTOR = 5
STOLEN_SHARE = 1 / 3  # of a compromised card's payments in its window
_DAY_S = 86_400


def genuine_rows(
    cfg: SimConfig,
    customers: Customers,
    merchants: Merchants,
    reachable: tuple[Ints, Ints],
    rng: np.random.Generator,
) -> Rows:
    """Every genuine transaction of the simulation, in no particular order."""
    n_customers, days = cfg.customers, cfg.days
    counts = rng.poisson(np.repeat(customers.per_day, days)).astype(np.int64)
    customer = np.repeat(np.repeat(np.arange(n_customers), days), counts)
    day = np.repeat(np.tile(np.arange(days), n_customers), counts)
    seconds = rng.normal(_DAY_S / 2, 20_000, len(customer))
    indptr, indices = reachable
    degree = indptr[customer + 1] - indptr[customer]
    # Out-of-day times are dropped (published); so is a customer with no terminal in reach.
    keep = (seconds > 0) & (seconds < _DAY_S) & (degree > 0)
    customer, day, seconds, degree = customer[keep], day[keep], seconds[keep], degree[keep]
    n = len(customer)
    mean, std = customers.mean_cents[customer], customers.std_cents[customer]
    amount = rng.normal(mean, std)
    negative = amount < 0
    amount[negative] = rng.uniform(0, 2 * mean[negative])
    # Rounded to cents; a zero amount is not a valid transaction, so the least is a cent.
    cents = np.maximum(np.rint(amount), 1).astype(np.int64)
    pick = np.minimum((rng.random(n) * degree).astype(np.int64), degree - 1)
    merchant = indices[indptr[customer] + pick]
    ts_ms = cfg.start_ms + day * DAY_MS + (seconds * 1000).astype(np.int64)
    lat, lon, device = _place(customer, merchant, customers, merchants, rng)
    return Rows(customer, merchant, ts_ms, cents, lat, lon, device, np.zeros(n, dtype=np.int64))


def _place(
    customer: Ints,
    merchant: Ints,
    customers: Customers,
    merchants: Merchants,
    rng: np.random.Generator,
) -> tuple[Floats, Floats, Ints]:
    """Location and device of genuine payments.

    At a till or ATM the location is the terminal's; online it is the buyer's (the phone
    at home). Online payments use the customer's phone; till payments do in the share of
    the customer's wallet habit; ATMs never do.
    """
    channel = merchants.channel[merchant]
    online = channel == ECOM
    lat = np.where(online, customers.lat[customer], merchants.lat[merchant])
    lon = np.where(online, customers.lon[customer], merchants.lon[merchant])
    wallet = rng.random(len(customer)) < customers.wallet_share[customer]
    with_phone = online | ((channel != ATM) & wallet)
    return lat, lon, np.where(with_phone, customer, -1)


def apply_reference_fraud(cfg: SimConfig, rows: Rows, rng: np.random.Generator) -> None:
    """The three published scenarios, in order, on genuine rows (in place)."""
    mark_large_amounts(rows)
    day = (rows.ts_ms - cfg.start_ms) // DAY_MS
    _compromise_terminals(cfg, rows, day, rng)
    _compromise_cards(cfg, rows, day, rng)


def mark_large_amounts(rows: Rows) -> None:
    """Scenario 1: any amount above 220 is fraud."""
    rows.scenario[rows.cents > LARGE_CENTS] = LARGE_AMOUNT


def terminals_compromised(cfg: SimConfig, rng: np.random.Generator) -> Ints:
    """Scenario 2's draw of one day: the terminals compromised from that day on."""
    drawn: Ints = rng.choice(cfg.terminals, cfg.terminals_per_day, replace=False)
    return drawn


def cards_compromised(cfg: SimConfig, rng: np.random.Generator) -> Ints:
    """Scenario 3's draw of one day: the customers whose card is compromised from that day."""
    drawn: Ints = rng.choice(cfg.customers, cfg.cards_per_day, replace=False)
    return drawn


def steal(rows: Rows, chosen: Ints) -> None:
    """Scenario 3 on the chosen payments of a compromised card: 5 x the amount, and fraud."""
    rows.cents[chosen] *= STOLEN_CARD_FACTOR
    rows.scenario[chosen] = COMPROMISED_CARD


def _compromise_terminals(cfg: SimConfig, rows: Rows, day: Ints, rng: np.random.Generator) -> None:
    bad = np.zeros((cfg.terminals, cfg.days), dtype=bool)
    for start in range(cfg.days):
        for terminal in terminals_compromised(cfg, rng):
            bad[terminal, start : start + cfg.terminal_days] = True
    rows.scenario[bad[rows.merchant, day]] = COMPROMISED_TERMINAL


def _compromise_cards(cfg: SimConfig, rows: Rows, day: Ints, rng: np.random.Generator) -> None:
    # Rows sorted by (customer, day): one customer's days form one contiguous range.
    order = np.lexsort((rows.ts_ms, rows.customer))
    key = rows.customer[order] * cfg.days + day[order]
    for start in range(cfg.days):
        end = min(start + cfg.card_days, cfg.days)
        for customer in cards_compromised(cfg, rng):
            lo, hi = np.searchsorted(key, [customer * cfg.days + start, customer * cfg.days + end])
            # A third of the card's payments in its window (STOLEN_SHARE).
            steal(rows, order[lo + rng.choice(hi - lo, (hi - lo) // 3, replace=False)])
