"""Evaluation: strictest wins, priorities, scores, shadow and disabled rules, lists, failures."""

import logging
import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rule_engine import (
    Binder,
    FailureKind,
    ListSet,
    NamedList,
    RuleAction,
    RuleContext,
    RuleFailureLog,
    RuleSet,
    RuleSpec,
)
from schemas.enums import Channel, Outcome, RuleMode, TxType
from schemas.features import FEATURE_NAMES
from schemas.records import RuleHit, Transaction


def spec(rule_id: str, expression: str, action: str = "REVIEW", **fields: Any) -> RuleSpec:
    return RuleSpec(
        rule_id=rule_id,
        version=fields.pop("version", 1),
        name=rule_id,
        expression=expression,
        action=RuleAction.parse(action),
        **fields,
    )


def context(lists: ListSet | None = None, home: str | None = "FR", **facts: Any) -> RuleContext:
    transaction: dict[str, Any] = {
        "transaction_id": "t1",
        "account_id": "a1",
        "card_token": "tok1",
        "amount": Decimal("120.50"),
        "currency": "EUR",
        "merchant_id": "m1",
        "country": "FR",
        "channel": Channel.ECOM,
        "type": TxType.DEBIT,
        "timestamp": datetime(2025, 3, 1, 14, tzinfo=UTC),
    }
    features = dict.fromkeys(FEATURE_NAMES, 0.0)
    for name, value in facts.items():
        (features if name in features and name != "amount" else transaction)[name] = value
    return RuleContext.build(transaction, features, home_country=home, lists=lists or ListSet())


def test_the_context_takes_records_and_dicts_alike() -> None:
    record = Transaction(
        transaction_id="t1", account_id="a1", card_token="tok1", amount=Decimal("120.50"),
        currency="EUR", merchant_id="m1", country="FR", channel=Channel.ECOM,
        timestamp=datetime(2025, 3, 1, 14, tzinfo=UTC), type=TxType.DEBIT,
    )  # fmt: skip
    features = dict.fromkeys(FEATURE_NAMES, 0.0) | {"hour_of_day": 15.0, "new_device": math.nan}
    built = RuleContext.build(record, features, home_country="FR")
    assert built.values["amount"] == 120.5 and isinstance(built.values["amount"], float)
    assert built.values["channel"] == "ECOM" and type(built.values["channel"]) is str
    assert built.values["hour"] == 15  # the feature engine's local hour
    assert built.values["new_device"] is None and built.values["device_id"] is None
    as_dict = RuleContext.build(dict(record.to_avro()), features, home_country="FR")
    assert as_dict.values == built.values
    no_hour = RuleContext.build(record, {}, home_country=None)
    assert no_hour.values["hour"] == 14 and no_hour.values["count_1h"] is None


def test_strictest_outcome_wins_and_fired_rules_are_in_priority_order() -> None:
    rules = RuleSet.build(
        [
            spec("review-low", "amount > 100", "REVIEW", priority=1),
            spec("decline-mid", "amount > 100", "DECLINE", priority=5),
            spec("approve-high", "amount > 100", "APPROVE", priority=9),
            spec("b-tie", "amount > 100", "REVIEW", priority=5),
            spec("quiet", "amount > 1000", "DECLINE", priority=99),
        ]
    )
    verdict = rules.evaluate(context())
    order = ["approve-high", "b-tie", "decline-mid", "review-low"]
    assert [f.rule_id for f in verdict.fired] == order
    assert verdict.outcome is Outcome.DECLINE
    assert verdict.hits()[2] == RuleHit(rule_id="decline-mid", version=1, action="DECLINE")


def test_no_rule_fired_means_approve() -> None:
    verdict = RuleSet.build([spec("r", "amount > 1000", "DECLINE")]).evaluate(context())
    assert (verdict.outcome, verdict.fired, verdict.score_delta) == (Outcome.APPROVE, (), 0.0)


def test_score_adjustments_add_up_without_an_outcome() -> None:
    rules = RuleSet.build(
        [
            spec("up", "amount > 100", "SCORE+0.25"),
            spec("up2", "count_1h >= 2", "SCORE+0.1"),
            spec("down", "country == home_country", "SCORE-0.05"),
        ]
    )
    verdict = rules.evaluate(context(count_1h=3.0))
    assert verdict.score_delta == pytest.approx(0.30)
    assert verdict.outcome is Outcome.APPROVE
    assert {h.action for h in verdict.hits()} == {"SCORE+0.25", "SCORE+0.1", "SCORE-0.05"}


_modes = st.sampled_from([RuleMode.ACTIVE, RuleMode.SHADOW])
_actions = st.sampled_from(["APPROVE", "REVIEW", "DECLINE", "SCORE+0.3"])


@given(
    st.lists(st.tuples(st.integers(0, 3000), _actions, _modes, st.integers(-5, 5)), max_size=8),
    st.integers(0, 3000),
)
def test_shadow_rules_never_change_the_outcome_or_score(
    rules: list[tuple[int, str, RuleMode, int]], amount: int
) -> None:
    specs = [
        spec(f"r{i}", f"amount > {limit}", action, mode=mode, priority=priority)
        for i, (limit, action, mode, priority) in enumerate(rules)
    ]
    facts = context(amount=Decimal(amount))
    full = RuleSet.build(specs).evaluate(facts)
    active_only = RuleSet.build(s for s in specs if s.mode is RuleMode.ACTIVE).evaluate(facts)
    assert (full.outcome, full.score_delta, full.fired) == (
        active_only.outcome,
        active_only.score_delta,
        active_only.fired,
    )
    shadow_ids = {s.rule_id for s in specs if s.mode is RuleMode.SHADOW}
    assert {f.rule_id for f in full.shadow} <= shadow_ids
    assert not {f.rule_id for f in full.fired} & shadow_ids


def test_shadow_rules_are_recorded_as_would_have_fired() -> None:
    rules = RuleSet.build([spec("s", "amount > 100", "DECLINE", mode=RuleMode.SHADOW)])
    verdict = rules.evaluate(context())
    assert verdict.outcome is Outcome.APPROVE and verdict.fired == ()
    assert [(h.rule_id, h.action) for h in verdict.shadow_hits()] == [("s", "DECLINE")]


def test_disabled_rules_are_kept_but_neither_compiled_nor_run() -> None:
    rules = RuleSet.build([spec("off", "this is not CEL", "DECLINE", mode=RuleMode.DISABLED)])
    assert "off" in rules and rules.rejected == {} and rules.evaluated == ()
    assert rules.evaluate(context()).outcome is Outcome.APPROVE


def test_lists_match_by_membership() -> None:
    lists = ListSet(
        [
            NamedList.of("blocked_merchants", "merchants", ["m-bad", "m-worse"]),
            NamedList.of("blocked_cards", "cards", ["tok9"]),
        ]
    )
    rules = RuleSet.build(
        [
            spec("merchant", "merchant_id in lists.blocked_merchants", "DECLINE"),
            spec("card", "card_token in lists.blocked_cards", "DECLINE"),
            spec("not-card", "!(card_token in lists.blocked_cards)", "SCORE+0.1"),
        ]
    )
    verdict = rules.evaluate(context(lists, merchant_id="m-worse"))
    assert {f.rule_id for f in verdict.fired} == {"merchant", "not-card"}
    clean = rules.evaluate(context(lists, merchant_id="m-good", card_token="tok9"))
    assert {f.rule_id for f in clean.fired} == {"card"}


def test_runtime_failures_count_as_not_fired_and_are_classified() -> None:
    rules = RuleSet.build(
        [
            spec("null-feature", "travel_speed_kmh > 900", "DECLINE"),
            spec("null-field", "device_id.startsWith('emu')", "DECLINE"),
            spec("missing-list", "merchant_id in lists.nowhere", "DECLINE"),
            spec("divide", "1 / hour > 0", "DECLINE"),
            spec("bad-int", "int(city) > 3", "DECLINE"),
            spec("fine", "amount > 100", "REVIEW"),
        ]
    )
    verdict = rules.evaluate(context(travel_speed_kmh=math.nan, hour_of_day=0.0, city="Paris"))
    assert [f.rule_id for f in verdict.fired] == ["fine"]
    assert verdict.outcome is Outcome.REVIEW
    kinds = {f.rule_id: f.kind for f in verdict.failures}
    assert kinds == {
        "null-feature": FailureKind.NULL,
        "null-field": FailureKind.NULL,
        "missing-list": FailureKind.MISSING_KEY,
        "divide": FailureKind.ARITHMETIC,
        "bad-int": FailureKind.FUNCTION,
    }


def test_a_context_cel_cannot_take_fails_every_rule_without_raising() -> None:
    weird = RuleContext({**context().values, "amount": object()})
    verdict = RuleSet.build([spec("r", "amount > 1.0")]).evaluate(weird)
    assert verdict.fired == () and verdict.failures[0].kind is FailureKind.INTERNAL


def test_failures_are_counted_per_rule_and_logged_once_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rules = RuleSet.build([spec("bad", "travel_speed_kmh > 900"), spec("ok", "amount > 1")])
    log = RuleFailureLog(interval_s=60.0)
    facts = context(travel_speed_kmh=math.nan)
    with caplog.at_level(logging.WARNING, logger="rule_engine"):
        logged = [log.record(rules.evaluate(facts).failures, now=t) for t in (0, 1, 59.9, 60, 61)]
    assert logged == [1, 0, 0, 1, 0]
    assert log.counts == {("bad", FailureKind.NULL): 5}
    assert log.total("bad") == 5 and log.total("ok") == 0
    assert len(caplog.records) == 2
    assert "2 more failures since the last report" in caplog.records[1].getMessage()


def test_with_rule_and_without_swap_one_rule_and_keep_the_rest_compiled() -> None:
    rules = RuleSet.build([spec("a", "amount > 100"), spec("b", "amount > 1000", "DECLINE")])
    newer = rules.with_rule(spec("b", "amount > 100", "DECLINE", version=2))
    assert rules.evaluate(context()).outcome is Outcome.REVIEW  # the old set is unchanged
    verdict = newer.evaluate(context())
    assert verdict.outcome is Outcome.DECLINE
    assert ("b", 2) in {(f.rule_id, f.version) for f in verdict.fired}
    assert newer.without("b").evaluate(context()).outcome is Outcome.REVIEW
    assert newer.without("nope") is newer
    repriced = newer.with_rule(spec("b", "amount > 100", "DECLINE", version=3, priority=9))
    assert repriced.evaluated[0].rule_id == "b"


def test_a_rule_that_does_not_compile_is_rejected_not_run() -> None:
    rules = RuleSet.build([spec("ok", "amount > 100"), spec("broken", "amount >")])
    assert set(rules.rejected) == {"broken"}
    assert rules.rejected["broken"].column == 9
    assert [s.rule_id for s in rules.evaluated] == ["ok"]
    fixed = rules.with_rule(spec("broken", "amount > 5.0", version=2))
    assert fixed.rejected == {} and len(fixed.evaluated) == 2


SEED_LIKE = RuleSet.build(
    [
        spec("abroad", "amount > 5000 and home_country != null and country != home_country"),
        spec("velocity", "count_1h >= 5 && hour < 6", "DECLINE"),
        spec("speed", "travel_speed_kmh != null && travel_speed_kmh > 900"),
        spec("device", "device_id == null || new_device == 1.0", "SCORE+0.1"),
        spec("listed", "merchant_id in lists.deny && channel == 'ECOM'", "DECLINE"),
        spec("shadow", "lat > 10.0 && merchant_risk_1d > 0.5", mode=RuleMode.SHADOW),
    ]
)


@given(
    amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal(20_000), places=2),
    count=st.sampled_from([0.0, 3.0, 7.0, math.nan]),
    speed=st.sampled_from([math.nan, 10.0, 1500.0]),
    home=st.sampled_from([None, "FR", "IN"]),
    device=st.sampled_from([None, "d1"]),
    hour=st.sampled_from([2.0, 14.0, math.nan]),
)
def test_a_context_of_the_names_rules_read_decides_as_the_whole_one(
    amount: Decimal, count: float, speed: float, home: str | None, device: str | None, hour: float
) -> None:
    lists = ListSet([NamedList.of("deny", "merchants", ["m1"])])
    transaction = Transaction(
        transaction_id="t1", account_id="a1", card_token="tok1", amount=amount,
        currency="EUR", merchant_id="m1", country="FR", channel=Channel.ECOM,
        timestamp=datetime(2025, 3, 1, 4, tzinfo=UTC), type=TxType.DEBIT, device_id=device,
        lat=48.85, lon=2.35,
    )  # fmt: skip
    features = dict.fromkeys(FEATURE_NAMES, 0.0) | {
        "count_1h": count, "travel_speed_kmh": speed, "hour_of_day": hour, "new_device": 1.0,
    }  # fmt: skip
    whole = RuleContext.build(transaction, features, home_country=home, lists=lists)
    read = RuleContext.build(
        transaction, features, home_country=home, lists=lists, names=SEED_LIKE.names
    )
    assert read.values == {name: whole.values[name] for name in SEED_LIKE.names}
    assert SEED_LIKE.evaluate(read) == SEED_LIKE.evaluate(whole)


@given(
    st.lists(
        st.tuples(
            st.sampled_from([Decimal("1.50"), Decimal("6000"), Decimal("0.01")]),
            st.sampled_from([0.0, -0.0, 3.0, 7.0, math.nan]),
            st.sampled_from([None, "FR", "IN"]),
            st.sampled_from(["m1", "m2"]),
            st.booleans(),  # a value CEL cannot take
        ),
        min_size=1,
        max_size=12,
    )
)
def test_a_binder_evaluates_a_sequence_as_fresh_contexts_would(
    facts: list[tuple[Decimal, float, str | None, str, bool]],
) -> None:
    lists = ListSet([NamedList.of("deny", "merchants", ["m1"])])
    binder = Binder()
    for amount, count, home, merchant, weird in facts:
        built = context(lists, home, amount=amount, count_1h=count, merchant_id=merchant)
        read = RuleContext({**built.values, "hour": object()} if weird else built.values, lists)
        rules = SEED_LIKE if count != 3.0 else RuleSet.build([spec("other", "count_1h > 1.0")])
        assert rules.evaluate(read, binder) == rules.evaluate(read)
    # Signed zeros are different CEL values: 1.0 / -0.0 is -infinity.
    signs = RuleSet.build([spec("sign", "1.0 / count_1h < 0.0")])
    assert signs.evaluate(context(count_1h=0.0), binder).fired == ()
    assert signs.evaluate(context(count_1h=-0.0), binder).fired != ()
