"""Benchmark: µs per AccountFeatures.observe and the serialised state size per account.

Run: .venv/bin/python bench/bench_features.py
Each profile simulates ACCOUNTS cards for DAYS days (Poisson arrivals, a personal set of
merchants, mostly-home countries and locations, UUID event ids). Calls are timed one by
one over the last 30 days only, when the 30-day window is full; figures are medians and
99th percentiles over every timed call of every account.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable

import numpy as np
from rich.console import Console
from rich.table import Table

from decision_core.features import AccountFeatures, FeatureEvent

DAYS = 60
DAY_MS = 86_400_000
T0 = 1_735_689_600_000  # 2025-01-01 00:00 UTC
# name: (transactions per day, accounts simulated)
PROFILES = {"typical card, 4 tx/day": (4.0, 300), "busy card, 40 tx/day": (40.0, 30)}


def simulate(rng: np.random.Generator, per_day: float) -> list[FeatureEvent]:
    """One account's events in time order over DAYS days."""
    count = int(rng.poisson(per_day * DAYS))
    times = np.sort(rng.integers(T0, T0 + DAYS * DAY_MS, size=count))
    habits = rng.integers(0, 1_000_000, size=30)
    weights = 1.0 / np.arange(1, 31)
    merchants = np.where(
        rng.random(count) < 0.1,
        rng.integers(0, 1_000_000, size=count),  # a one-off merchant
        habits[rng.choice(30, size=count, p=weights / weights.sum())],
    )
    abroad = rng.random(count) < 0.03
    no_device = rng.random(count) < 0.05
    devices = rng.integers(0, 2, size=count)
    home = (float(rng.uniform(8, 30)), float(rng.uniform(70, 88)))
    lats = home[0] + rng.normal(0, 0.05, size=count) + np.where(abroad, 5.0, 0.0)
    lons = home[1] + rng.normal(0, 0.05, size=count)
    amounts = rng.lognormal(7.5, 1.2, size=count).astype(int)
    return [
        FeatureEvent(
            event_id=str(uuid.UUID(bytes=rng.bytes(16))),
            ts_ms=int(times[i]),
            amount_minor=int(amounts[i]),
            merchant_id=f"merch-{int(merchants[i]):06d}",
            country="AE" if abroad[i] else "IN",
            device_id=None if no_device[i] else f"dev-{int(devices[i])}",
            lat=float(lats[i]),
            lon=float(lons[i]),
        )
        for i in range(count)
    ]


def timed_us(operation: Callable[..., object], *args: object) -> float:
    start = time.perf_counter_ns()
    operation(*args)
    return (time.perf_counter_ns() - start) / 1000


def run_profile(per_day: float, accounts: int, seed: int) -> dict[str, list[float]]:
    """Per-call timings (µs) and end-of-run state sizes (bytes) for simulated accounts."""
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {
        key: [] for key in ("observe", "peek", "to_bytes", "from_bytes", "cycle", "size", "window")
    }
    for _ in range(accounts):
        events = simulate(rng, per_day)
        split = events[-1].ts_ms - 30 * DAY_MS
        live = AccountFeatures()
        for event in (e for e in events if e.ts_ms <= split):
            live.observe(event)
        data = live.to_bytes()
        for event in (e for e in events if e.ts_ms > split):
            samples["peek"].append(timed_us(live.peek, event))
            samples["observe"].append(timed_us(live.observe, event))
            # What a table backed by an on-disk store pays: restore, observe, serialise.
            start = time.perf_counter_ns()
            account = AccountFeatures.from_bytes(data)
            account.observe(event)
            data = account.to_bytes()
            samples["cycle"].append((time.perf_counter_ns() - start) / 1000)
        data = live.to_bytes()
        samples["to_bytes"].append(timed_us(live.to_bytes))
        samples["from_bytes"].append(timed_us(AccountFeatures.from_bytes, data))
        samples["size"].append(float(len(data)))
        samples["window"].append(float(len(live.state.ts)))
    return samples


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def main() -> None:
    med = statistics.median
    results = {
        name: run_profile(per_day, accounts, seed)
        for seed, (name, (per_day, accounts)) in enumerate(PROFILES.items())
    }
    rows: dict[str, Callable[[dict[str, list[float]]], str]] = {
        "accounts simulated": lambda s: f"{len(s['size'])}",
        "retained events at the end, p50": lambda s: f"{med(s['window']):.0f}",
        "observe µs, p50 / p99": lambda s: f"{med(s['observe']):.1f} / {p99(s['observe']):.1f}",
        "peek µs, p50": lambda s: f"{med(s['peek']):.1f}",
        "to_bytes µs, p50": lambda s: f"{med(s['to_bytes']):.1f}",
        "from_bytes µs, p50": lambda s: f"{med(s['from_bytes']):.1f}",
        "from_bytes + observe + to_bytes µs, p50": lambda s: f"{med(s['cycle']):.1f}",
        "state bytes, p50 / max": lambda s: f"{med(s['size']):,.0f} / {max(s['size']):,.0f}",
    }
    table = Table(title=f"decision_core.features, {DAYS} days per account")
    table.add_column("measure")
    for name in results:
        table.add_column(name, justify="right")
    for label, cell in rows.items():
        table.add_row(label, *(cell(s) for s in results.values()))
    Console(width=110).print(table)


if __name__ == "__main__":
    main()
