"""Benchmark: µs per transaction through the rule engine with 20 and with 200 active rules.

Run: .venv/bin/python bench/bench_rules.py
Rules are the seed rules' shapes with thresholds drawn at random (a tenth in shadow mode,
two deny lists of 100,000 members each). Transactions are simulated records with their
feature vectors (some features NaN, as on a first transaction). Each figure is the median
over RUNS runs of the mean per transaction over TXS transactions, after a warm-up.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import cel
import numpy as np
from rich.console import Console
from rich.table import Table

from rule_engine import (
    DeclineBreaker,
    ListSet,
    NamedList,
    RuleAction,
    RuleContext,
    RuleSet,
    RuleSpec,
    Thresholds,
    decide,
)
from schemas.enums import Channel, RuleMode, TxType
from schemas.features import FEATURE_NAMES
from schemas.records import Transaction

RUNS = 7
TXS = 2_000
LIST_SIZE = 100_000
T0 = datetime(2025, 3, 1, tzinfo=UTC)
# Seed-like shapes: expression, action, typical thresholds {a} and {b} (each rule draws its
# own around them, so that a rule fires on a few per cent of transactions, as real ones do).
SHAPES = (
    ("amount > {a} && home_country != null && country != home_country", "REVIEW", 2000, 0),
    ("count_1h >= {a}", "REVIEW", 35, 0),
    ("count_24h >= {a} && sum_24h > {b}", "DECLINE", 20, 20),
    ("amount < {a} && count_1h >= {b}", "DECLINE", 20, 10),
    ("new_device == 1.0 && new_country == 1.0 && amount > {a}", "REVIEW", 500, 0),
    ("new_device == 1.0 && amount_to_mean_30d != null && amount_to_mean_30d > {a}",
     "SCORE+0.1", 20, 0),
    ("travel_speed_kmh != null && travel_speed_kmh > {a}", "REVIEW", 45, 0),
    ("merchant_id in lists.blocked_merchants && amount > {a}", "DECLINE", 50, 0),
    ("card_token in lists.blocked_cards || count_7d > {a}", "DECLINE", 35, 0),
    ("is_night == 1.0 && distinct_countries_24h >= {a} && mcc == '7995'", "REVIEW", 10, 0),
)  # fmt: skip


def make_rules(count: int, rng: np.random.Generator) -> list[RuleSpec]:
    specs = []
    for i in range(count):
        expression, action, typical_a, typical_b = SHAPES[i % len(SHAPES)]
        a, b = (round(t * float(rng.lognormal(0, 0.3)), 1) for t in (typical_a, typical_b))
        specs.append(
            RuleSpec(
                rule_id=f"rule-{i:03d}",
                version=1,
                name=f"rule {i}",
                expression=expression.format(a=a, b=b),
                action=RuleAction.parse(action),
                priority=int(rng.integers(0, 100)),
                mode=RuleMode.SHADOW if i % 10 == 9 else RuleMode.ACTIVE,
            )
        )
    return specs


def make_lists() -> ListSet:
    return ListSet(
        [
            NamedList.of("blocked_merchants", "merchants", (f"m{i}" for i in range(LIST_SIZE))),
            NamedList.of("blocked_cards", "cards", (f"tok{i}" for i in range(LIST_SIZE))),
        ]
    )


def make_transactions(rng: np.random.Generator) -> list[tuple[Transaction, dict[str, float]]]:
    samples = []
    for i in range(TXS):
        amount = float(rng.lognormal(6, 1.5))
        tx = Transaction(
            transaction_id=f"t{i}",
            account_id=f"a{i % 500}",
            card_token=f"tok{int(rng.integers(0, 50 * LIST_SIZE))}",
            amount=Decimal(f"{amount:.2f}"),
            currency="INR",
            merchant_id=f"m{int(rng.integers(0, 50 * LIST_SIZE))}",
            mcc="7995" if i % 7 == 0 else "5411",
            country="AE" if i % 20 == 0 else "IN",
            channel=Channel.ECOM,
            timestamp=T0 + timedelta(seconds=i * 37),
            type=TxType.DEBIT,
            device_id=None if i % 9 == 0 else f"d{i % 3}",
        )
        features = {name: float(rng.gamma(2, 5)) for name in FEATURE_NAMES}
        features.update(new_device=float(i % 5 == 0), new_country=float(i % 11 == 0))
        features.update(is_night=float(i % 4 == 0), amount=amount)
        if i % 6 == 0:  # a first transaction: no previous event to measure from
            features.update(travel_speed_kmh=math.nan, secs_since_prev=math.nan)
        samples.append((tx, features))
    return samples


def per_tx_us(step: Callable[[int], object]) -> float:
    """Median over RUNS of the mean µs of ``step(i)`` over TXS transactions."""
    for i in range(min(TXS, 200)):
        step(i)
    runs = []
    for _ in range(RUNS):
        start = time.perf_counter_ns()
        for i in range(TXS):
            step(i)
        runs.append((time.perf_counter_ns() - start) / 1000 / TXS)
    return statistics.median(runs)


def measure(count: int, samples: list[tuple[Transaction, dict[str, float]]]) -> dict[str, float]:
    rng = np.random.default_rng(count)
    specs = make_rules(count, rng)
    rules, lists = RuleSet.build(specs), make_lists()
    contexts = [RuleContext.build(tx, f, home_country="IN", lists=lists) for tx, f in samples]
    names, checks = rules._names, rules._list_checks  # private: timing the parts
    bound = [c.bind(names, checks) for c in contexts]
    programs = [rule.program for rule in rules._order]
    breaker, thresholds = DeclineBreaker(), Thresholds()
    verdicts = [rules.evaluate(c) for c in contexts]

    def end_to_end(i: int) -> object:
        tx, features = samples[i]
        context = RuleContext.build(tx, features, home_country="IN", lists=lists)
        return decide(0.3, breaker.apply(rules.evaluate(context), now=i), thresholds)

    figures = {
        "build context (RuleContext.build)": per_tx_us(
            lambda i: RuleContext.build(*samples[i], home_country="IN", lists=lists)
        ),
        "bind context (cel.Context, lists projected)": per_tx_us(
            lambda i: contexts[i].bind(names, checks)
        ),
        "run every rule on a bound context": per_tx_us(
            lambda i: [p.execute(bound[i]) for p in programs]
        ),
        "RuleSet.evaluate (bind + run + verdict)": per_tx_us(lambda i: rules.evaluate(contexts[i])),
        "build + evaluate": per_tx_us(
            lambda i: rules.evaluate(RuleContext.build(*samples[i], home_country="IN", lists=lists))
        ),
        "build + evaluate + breaker + decide": per_tx_us(end_to_end),
    }
    figures["build + evaluate, µs per rule"] = figures["build + evaluate"] / count
    figures["fired per tx (active + shadow)"] = statistics.mean(
        len(v.fired) + len(v.shadow) for v in verdicts
    )
    figures["failures per tx (null inputs)"] = statistics.mean(len(v.failures) for v in verdicts)
    figures.update(rebuild_costs(specs))
    return figures


def rebuild_costs(specs: list[RuleSpec]) -> dict[str, float]:
    """µs to build the whole set, and to change one rule in it."""
    rules = RuleSet.build(specs)
    changed = RuleSpec(
        rule_id=specs[0].rule_id,
        version=2,
        name="changed",
        expression="amount > 123.0",
        action=RuleAction.parse("REVIEW"),
    )
    return {
        "RuleSet.build, all rules (µs)": once_us(lambda: RuleSet.build(specs)),
        "RuleSet.with_rule, one changed (µs)": once_us(lambda: rules.with_rule(changed)),
        "RuleSet.without, one removed (µs)": once_us(lambda: rules.without(specs[0].rule_id)),
    }


def once_us(action: Callable[[], object]) -> float:
    runs = []
    for _ in range(RUNS):
        start = time.perf_counter_ns()
        action()
        runs.append((time.perf_counter_ns() - start) / 1000)
    return statistics.median(runs)


def alternatives() -> dict[str, float]:
    """What the design avoids: a dict per call, and a whole list handed to CEL."""
    names = ["amount", "count_1h", "country", "home_country"]
    variables: dict[str, object] = {n: 1.0 for n in names} | {"country": "IN"}
    programs = [cel.compile(f"amount > {i}.0 && count_1h >= 2.0") for i in range(20)]
    context = cel.Context(variables)
    whole = cel.Context({"merchant_id": "m5", "lists": {"b": dict.fromkeys(
        (f"m{i}" for i in range(10_000)), True)}})  # fmt: skip
    member = cel.compile("merchant_id in lists.b")
    return {
        "20 rules, one cel.Context (µs per tx)": per_tx_us(
            lambda i: [p.execute(context) for p in programs]
        ),
        "20 rules, a dict per call (µs per tx)": per_tx_us(
            lambda i: [p.execute(variables) for p in programs]
        ),
        "`in` on a whole 10,000-member list (µs)": once_us(lambda: member.execute(whole)),
    }


def main() -> None:
    samples = make_transactions(np.random.default_rng(7))
    results = {f"{count} rules": measure(count, samples) for count in (20, 200)}
    table = Table(title=f"rule_engine: µs per transaction (median of {RUNS} runs)")
    table.add_column("measure")
    for name in results:
        table.add_column(name, justify="right")
    for label in next(iter(results.values())):
        table.add_row(label, *(f"{r[label]:,.2f}" for r in results.values()))
    reference = Table(title="for reference (4 variables)")
    reference.add_column("measure")
    reference.add_column("µs", justify="right")
    for label, value in alternatives().items():
        reference.add_row(label, f"{value:,.1f}")
    console = Console(width=110)
    console.print(table)
    console.print(reference)


if __name__ == "__main__":
    main()
