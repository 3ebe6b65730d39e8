"""The seed rules: all compile, and each behaves on a sample transaction."""

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from rule_engine import (
    ListSet,
    NamedList,
    RuleContext,
    RuleSet,
    compile_rule,
    load_seed_lists,
    load_seed_rules,
)
from schemas.enums import Channel, Outcome, RuleMode, TxType
from schemas.features import FEATURE_NAMES
from schemas.records import Transaction

SEEDS = load_seed_rules()
LISTS = load_seed_lists().with_list(NamedList.of("blocked_merchants", "merchants", ["m-bad"]))


def test_every_seed_rule_compiles_and_ids_are_unique() -> None:
    for spec in SEEDS:
        compile_rule(spec.expression)
    assert len({spec.rule_id for spec in SEEDS}) == len(SEEDS) >= 10
    assert RuleSet.build(SEEDS).rejected == {}
    assert any(spec.mode is RuleMode.SHADOW for spec in SEEDS)


def test_the_seed_lists_cover_every_list_the_seed_rules_name() -> None:
    named = {c.list_name for s in SEEDS for c in compile_rule(s.expression).list_checks}
    assert named <= set(load_seed_lists())


def quiet_features(**changes: float) -> dict[str, float]:
    """An ordinary account at home: nothing should fire."""
    features = dict.fromkeys(FEATURE_NAMES, 0.0)
    features.update(count_1h=1.0, count_24h=2.0, sum_24h=300.0, count_30d=12.0)
    features.update(is_home_country=1.0, amount_to_mean_30d=1.1, hour_of_day=14.0)
    features.update(travel_speed_kmh=math.nan, amount=120.0)
    features.update(changes)
    return features


def transaction(**changes: Any) -> Transaction:
    fields: dict[str, Any] = {
        "transaction_id": "t1", "account_id": "a1", "card_token": "tok1",
        "amount": Decimal("120.00"), "currency": "INR", "merchant_id": "m1", "country": "IN",
        "channel": Channel.POS, "timestamp": datetime(2025, 3, 1, 14, tzinfo=UTC),
        "type": TxType.DEBIT, "device_id": "d1",
    }  # fmt: skip
    fields.update(changes)
    return Transaction(**fields)


RULES = RuleSet.build(SEEDS)


def fired(tx: Transaction, features: dict[str, float], home: str | None = "IN") -> set[str]:
    verdict = RULES.evaluate(RuleContext.build(tx, features, home_country=home, lists=LISTS))
    assert verdict.failures == ()
    return {f.rule_id.removeprefix("seed-") for f in verdict.fired + verdict.shadow}


def test_an_ordinary_transaction_fires_nothing() -> None:
    assert fired(transaction(), quiet_features()) == set()
    assert fired(transaction(), quiet_features(), home=None) == set()


@pytest.mark.parametrize(
    ("tx", "features", "expected"),
    [
        ({"amount": Decimal("6000"), "country": "AE"}, {"is_home_country": 0.0},
         {"high-amount-abroad"}),
        ({"amount": Decimal("6000")}, {}, set()),  # at home
        ({}, {"count_1h": 5.0}, {"velocity-1h"}),
        ({}, {"count_24h": 20.0, "sum_24h": 20000.5}, {"velocity-24h-spend"}),
        ({"amount": Decimal("1.00")}, {"count_1h": 3.0}, {"card-testing"}),
        ({}, {"new_device": 1.0, "new_country": 1.0}, {"new-device-new-country"}),
        # An account's very first payment: everything is new, nothing to compare with.
        ({}, {"new_device": 1.0, "new_country": 1.0, "count_30d": 1.0}, set()),
        ({}, {"new_device": 1.0, "amount_to_mean_30d": 6.0}, {"new-device-big-amount"}),
        ({}, {"travel_speed_kmh": 950.0}, {"impossible-travel"}),
        ({"merchant_id": "m-bad"}, {}, {"blocked-merchant"}),
        ({}, {"count_30d": 40.0}, {"regular-at-home"}),
        ({}, {"is_night": 1.0, "distinct_countries_24h": 3.0}, {"night-spree-shadow"}),
    ],
)  # fmt: skip
def test_each_seed_rule_fires_on_its_pattern(
    tx: dict[str, Any], features: dict[str, float], expected: set[str]
) -> None:
    assert fired(transaction(**tx), quiet_features(**features)) == expected


def test_seed_outcomes_combine_strictest_first() -> None:
    lists = ListSet([*LISTS.values(), NamedList.of("blocked_cards", "cards", ["tok1"])])
    context = RuleContext.build(
        transaction(amount=Decimal("1.00")), quiet_features(count_1h=6.0), home_country="IN",
        lists=lists,
    )  # fmt: skip
    verdict = RULES.evaluate(context)
    assert verdict.outcome is Outcome.DECLINE
    assert [f.rule_id for f in verdict.fired] == [
        "seed-blocked-card", "seed-card-testing", "seed-velocity-1h",
    ]  # fmt: skip
