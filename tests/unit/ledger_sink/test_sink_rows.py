"""Decisions into table rows, without a database."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from ledger_sink import rows
from ledger_sink.testing import decision, transaction
from schemas.records import RuleHit, decision_id_for


def test_a_consistent_decision_has_no_inconsistency() -> None:
    assert rows.inconsistency(decision(transaction("a"))) is None


def test_inconsistent_decisions_are_named() -> None:
    good = decision(transaction("a"))
    other = transaction("b")
    assert "embeds" in (rows.inconsistency(replace(good, transaction_id="x")) or "")
    assert "its transaction" in (rows.inconsistency(replace(good, account_id="b")) or "")
    wrong = replace(good, decision_id=decision_id_for(other.transaction_id))
    assert "decision_id_for" in (rows.inconsistency(wrong) or "")


def test_repeats_inside_a_batch_keep_the_first() -> None:
    a, b = decision(transaction("a")), decision(transaction("b"))
    assert rows.unique_by_transaction([a, b, a, b, a]) == [a, b]


def test_columns_transpose_and_keep_their_width_when_empty() -> None:
    assert rows.columns([(1, "x"), (2, "y")], 2) == [[1, 2], ["x", "y"]]
    assert rows.columns([], 3) == [[], [], []]


def test_the_decision_row_writes_json_that_jsonb_accepts() -> None:
    d = replace(decision(transaction("a")), features={"ratio": float("nan"), "n": 2.0})
    row = rows.decision_row(d)
    assert json.loads(row[6]) == {"ratio": None, "n": 2.0}
    assert json.loads(row[7]) == []


def test_the_decision_row_carries_the_challenger_and_drops_an_impossible_shadow_score() -> None:
    d = decision(transaction("a"))
    assert rows.decision_row(d)[10:] == (None, None)
    shadow = replace(d, challenger_model_version="c-2", challenger_score=0.25)
    assert rows.decision_row(shadow)[10:] == ("c-2", 0.25)
    broken = replace(shadow, challenger_score=float("nan"))
    assert rows.decision_row(broken)[10:] == ("c-2", None)


def test_rule_hits_mark_shadow_rules() -> None:
    hit, shadow = (
        RuleHit(rule_id="r", version=2, action="REVIEW"),
        RuleHit(rule_id="s", version=1, action="DECLINE"),
    )
    d = decision(transaction("a"), rules=(hit,), shadow_rules=(shadow,))
    assert rows.rule_hit_rows(d) == [
        (d.decision_id, "r", 2, "REVIEW", False),
        (d.decision_id, "s", 1, "DECLINE", True),
    ]


def test_the_fact_row_keys_date_and_minute_in_utc() -> None:
    # 01:10 in India is 19:40 UTC the previous day.
    india = timezone(timedelta(hours=5, minutes=30))
    tx = transaction("a", "7.5", at=datetime(2026, 12, 1, 1, 10, tzinfo=india))
    fact = rows.fact_row(decision(tx))
    assert fact[4] == date(2026, 11, 30)
    assert fact[5] == 19 * 60 + 40
    assert fact[10] == Decimal("7.5")
    assert fact[14] == 12  # latency in ms


def test_latency_is_clamped_to_the_integer_column() -> None:
    d = decision(transaction("a"))
    skewed = replace(d, decided_at=d.ingested_at + timedelta(days=400))
    assert rows.fact_row(skewed)[14] == 2**31 - 1


def test_merchants_deduplicate_with_the_latest_attributes() -> None:
    old = transaction("a", merchant_id="m")
    new = replace(transaction("a", merchant_id="m"), merchant_name="Renamed", mcc=None)
    merchants = rows.merchant_rows([decision(old), decision(new)])
    assert merchants == [("m", "Renamed", None)]


def test_locations_deduplicate_with_and_without_a_city() -> None:
    batch = [decision(transaction("a", city=c)) for c in ("Paris", None, "Paris", None)]
    assert rows.location_rows(batch) == [("FR", None), ("FR", "Paris")]
