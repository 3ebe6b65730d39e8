"""Building the candidate: rule overlays, rule files, models; the pipeline it runs."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from decision_core.features import AccountFeatures, HomeProfile
from decision_core.records import BatchResult, SourceRecord
from replay.candidate import (
    Candidate,
    build_pipeline,
    check_rules,
    load_rule_file,
    model_directory,
    overlay,
)
from replay.errors import ReplayError
from rule_engine import NamedList, RuleAction, RuleSpec, load_seed_rules
from schemas.codec import encode_transaction
from schemas.enums import Channel, Outcome, RuleMode, TxType
from schemas.records import Transaction
from tests.support.models import train_tiny_model


def spec(rule_id: str, expression: str = "amount > 1", name: str | None = None) -> RuleSpec:
    return RuleSpec(
        rule_id=rule_id,
        version=1,
        name=name or rule_id,
        expression=expression,
        action=RuleAction.parse("REVIEW"),
    )


def test_a_change_replaces_the_rule_with_its_id_else_its_name_else_joins() -> None:
    base = [spec("uuid-1", name="High amount"), spec("uuid-2", name="Velocity")]
    changes = [
        spec("uuid-1", "amount > 9"),
        spec("seed-velocity", "count_1h > 9", name="Velocity"),
        spec("new", "amount > 99"),
    ]
    rules, touched = overlay(base, changes)
    assert {r.rule_id: r.expression for r in rules} == {
        "uuid-1": "amount > 9",
        "seed-velocity": "count_1h > 9",
        "new": "amount > 99",
    }
    assert touched == ["uuid-1", "seed-velocity", "new"]


def test_the_rules_file_format_of_rules_load(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"rules": [{"rule_id": "a", "name": "A", "expression": "amount > 1",
                                           "action": "SCORE+0.2", "mode": "shadow"}]}))  # fmt: skip
    (rule,) = load_rule_file(path)
    assert (rule.rule_id, rule.action.score_delta, rule.mode) == ("a", 0.2, RuleMode.SHADOW)
    path.write_text(json.dumps({"rules": [{"rule_id": "a"}]}))
    with pytest.raises(ReplayError, match="rules.json"):
        load_rule_file(path)
    path.write_text("{")
    with pytest.raises(ReplayError, match="cannot read"):
        load_rule_file(path)


def test_a_rule_that_does_not_compile_is_named_with_its_position() -> None:
    check_rules(load_seed_rules())
    with pytest.raises(ReplayError, match=r"broken: .*line 1, column"):
        check_rules([spec("broken", "amount >")])


def test_the_model_is_the_version_asked_for_or_the_current_one(tmp_path: Path) -> None:
    train_tiny_model(tmp_path, "v1")
    train_tiny_model(tmp_path, "v2")
    assert model_directory(tmp_path, None) == tmp_path / "v2"
    assert model_directory(tmp_path, "v1") == tmp_path / "v1"
    assert model_directory(None, None) is None
    with pytest.raises(ReplayError, match="no model 'v9'"):
        model_directory(tmp_path, "v9")
    with pytest.raises(ReplayError, match="--registry"):
        model_directory(None, "v1")


def test_the_candidate_crosses_to_a_worker_process_and_decides_there(tmp_path: Path) -> None:
    train_tiny_model(tmp_path)
    candidate = Candidate(
        rules=(spec("blocked", "merchant_id in lists.blocked_merchants"),),
        lists=(NamedList.of("blocked_merchants", "merchants", ["m-bad"]),),
        profiles={"acct-1": HomeProfile("IN")},
        model_dir=tmp_path / "tiny-1",
    )
    pipeline = build_pipeline(pickle.loads(pickle.dumps(candidate)))  # noqa: S301 - our own bytes
    txs = [transaction("t1", "m-ok"), transaction("t2", "m-bad")]
    records = [
        SourceRecord("transactions", 0, i, 0, b"acct-1", encode_transaction(t))
        for i, t in enumerate(txs)
    ]
    accounts: dict[str, AccountFeatures] = {}
    decided = pipeline.decide(records, accounts, lambda _a: None, BatchResult())
    outcomes = {d.transaction_id: (d.outcome, d.model_version) for _r, d in decided}
    assert outcomes == {"t1": (Outcome.APPROVE, "tiny-1"), "t2": (Outcome.REVIEW, "tiny-1")}


def transaction(tid: str, merchant: str) -> Transaction:
    return Transaction(
        transaction_id=tid,
        account_id="acct-1",
        card_token="tok_abcdefgh",
        amount=Decimal("12.50"),
        currency="INR",
        merchant_id=merchant,
        country="IN",
        channel=Channel.POS,
        timestamp=datetime(2026, 11, 30, 10, tzinfo=UTC),
        type=TxType.DEBIT,
    )
