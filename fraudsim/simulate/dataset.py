"""One simulation run: population, genuine rows, fraud, ids and the canonical event order.

Canonical order is by (event time, transaction id), the order the feature engine keeps
events in; the producer sends in it and training replays in it, so both see each account's
events in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fraudsim.simulate.config import DAY_MS, SCENARIOS, SimConfig
from fraudsim.simulate.extra import Injector
from fraudsim.simulate.geography import Ints
from fraudsim.simulate.population import (
    Customers,
    Merchants,
    draw_customers,
    draw_merchants,
    reachable_terminals,
)
from fraudsim.simulate.reference import apply_reference_fraud, genuine_rows
from fraudsim.simulate.rows import Rows

STEPS = ("population", "transactions", "reference fraud", "extra fraud", "ids and order")
_HEX = np.frombuffer(b"0123456789abcdef", dtype="S1")
_DASHES = (8, 13, 18, 23)


@dataclass(frozen=True, slots=True)
class SimulatedData:
    """The simulation's rows in canonical order and the tables their strings come from."""

    config: SimConfig
    customers: Customers
    merchants: Merchants
    rows: Rows
    transaction_ids: npt.NDArray[np.str_]
    device_ids: list[str]
    labelled_at_ms: Ints  # per row; meaningful where the row is fraud

    @property
    def is_fraud(self) -> npt.NDArray[np.bool_]:
        return self.rows.scenario > 0

    def scenario_counts(self) -> dict[str, int]:
        counts = np.bincount(self.rows.scenario, minlength=len(SCENARIOS))
        return {name: int(n) for name, n in zip(SCENARIOS, counts, strict=True)}


def simulate(cfg: SimConfig, step: Callable[[str], None] = lambda _name: None) -> SimulatedData:
    """Run the simulation; ``step`` is called as each of ``STEPS`` completes."""
    rng_population, rng_rows, rng_fraud, rng_extra, rng_ids = np.random.default_rng(cfg.seed).spawn(
        5
    )  # independent streams: disabling extras leaves the reference rows unchanged
    customers = draw_customers(cfg, rng_population)
    merchants = draw_merchants(cfg, rng_population)
    reachable = reachable_terminals(customers, merchants, cfg.radius)
    step(STEPS[0])
    genuine = genuine_rows(cfg, customers, merchants, reachable, rng_rows)
    step(STEPS[1])
    apply_reference_fraud(cfg, genuine, rng_fraud)
    step(STEPS[2])
    injector = Injector(cfg, customers, merchants, rng_extra)
    rows = Rows.concat([genuine, *injector.all(genuine)])
    step(STEPS[3])
    data = _finish(cfg, customers, merchants, rows, injector.next_device, rng_ids)
    step(STEPS[4])
    return data


def _finish(
    cfg: SimConfig,
    customers: Customers,
    merchants: Merchants,
    rows: Rows,
    devices: int,
    rng: np.random.Generator,
) -> SimulatedData:
    rows, raw = canonical_order(rows, rng)
    labelled_at = label_times(cfg, rows, rng)
    return SimulatedData(
        cfg, customers, merchants, rows, uuid_strings(raw), device_names(rng, devices), labelled_at
    )


def canonical_order(rows: Rows, rng: np.random.Generator) -> tuple[Rows, npt.NDArray[np.uint8]]:
    """Rows with new random (version 4) transaction ids, both in (event time, id) order."""
    raw = _uuid4_bytes(rng, len(rows))
    high = raw[:, :8].copy().view(">u8").ravel()
    low = raw[:, 8:].copy().view(">u8").ravel()
    # Hex strings order as their bytes do, so this is (event time, transaction id) order.
    order = np.lexsort((low, high, rows.ts_ms))
    return rows.take(order), raw[order]


def label_times(cfg: SimConfig, rows: Rows, rng: np.random.Generator) -> Ints:
    """When each row's fraud becomes known (meaningful where the row is fraud)."""
    delay = rng.uniform(*cfg.label_delay_days, len(rows)) * DAY_MS
    labelled: Ints = rows.ts_ms + delay.astype(np.int64)
    return labelled


def device_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` random device ids (six random bytes each)."""
    return [f"dev-{h}" for h in _hex(rng.integers(0, 256, (n, 6), dtype=np.uint8))]


def _uuid4_bytes(rng: np.random.Generator, n: int) -> npt.NDArray[np.uint8]:
    raw = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    return raw


def _hex(raw: npt.NDArray[np.uint8]) -> list[str]:
    digits = np.stack([_HEX[raw >> 4], _HEX[raw & 0x0F]], axis=-1).reshape(len(raw), -1)
    return [s.decode() for s in digits.view(f"S{digits.shape[1]}").ravel()]


def uuid_strings(raw: npt.NDArray[np.uint8]) -> npt.NDArray[np.str_]:
    digits = np.stack([_HEX[raw >> 4], _HEX[raw & 0x0F]], axis=-1).reshape(len(raw), 32)
    for at in _DASHES:
        digits = np.insert(digits, at, b"-", axis=1)
    return digits.view("S36").ravel().astype(np.str_)
