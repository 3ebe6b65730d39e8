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
from decision_core.reference import ReferenceData
from replay.candidate import (
    Candidate,
    build_pipeline,
    check_rules,
    load_rule_file,
    model_directory,
    overlay,
)
from replay.database import LiveDecision
from replay.engine import Job
from replay.errors import ReplayError
from replay.plan import PartitionRange
from replay.report import Replayed, ReportPart
from replay.service import ReplayRequest, candidate
from replay.settings import ReplaySettings
from rule_engine import NamedList, RuleAction, RuleSpec, load_seed_rules
from schemas.codec import (
    encode_account_profile,
    encode_merchant_risk,
    encode_named_list,
    encode_rule,
    encode_transaction,
)
from schemas.connections import KafkaConnection
from schemas.enums import Channel, Outcome, RuleMode, TxType
from schemas.records import AccountProfile, MerchantRisk, Rule, Transaction
from schemas.records import NamedList as ListRecord
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


def reference_of_the_live_topics() -> ReferenceData:
    """Reference data as `make up`'s topics fill it: the seed rules (UUID ids, one in shadow
    mode) and lists, a list with members, an account profile and merchant risk, each
    applied from its encoded record as the agents and a replay read them."""
    reference = ReferenceData()
    now = datetime(2026, 11, 30, 10, tzinfo=UTC)
    for n, seed in enumerate(load_seed_rules()):
        rule = Rule(
            rule_id=f"7edeb737-0000-4000-8000-{n:012d}",
            version=1,
            name=seed.name,
            description="",
            expression=seed.expression,
            action=str(seed.action),
            priority=seed.priority,
            mode=seed.mode,
            author="test",
            updated_at=now,
        )
        reference.apply("rules", rule.rule_id.encode(), encode_rule(rule))
    stolen = ListRecord(name="blocked_cards", kind="cards", values=("tok_x",), updated_at=now)
    reference.apply("lists", b"blocked_cards", encode_named_list(stolen))
    profile = AccountProfile(account_id="acct-1", home_country="IN", home_lat=19.07,
                             home_lon=72.87, updated_at=now)  # fmt: skip
    reference.apply("accounts", b"acct-1", encode_account_profile(profile))
    risk = MerchantRisk(merchant_id="m-ok", hour=now, tx_1d=40, risk_1d=0.25, tx_7d=300,
                        risk_7d=0.02, tx_30d=1200, risk_30d=0.01, computed_at=now)  # fmt: skip
    reference.apply("merchant-risk", b"m-ok", encode_merchant_risk(risk))
    return reference


def test_a_job_with_the_live_topics_reference_data_crosses_to_a_worker_and_back() -> None:
    reference = reference_of_the_live_topics()
    assert reference.merchants and reference.profiles and reference.lists  # all four kinds
    assert any(spec.mode is RuleMode.SHADOW for spec in reference.rules.specs.values())
    chosen = candidate(ReplayRequest(), ReplaySettings(), reference)
    job = Job(kafka=KafkaConnection(), topic="transactions",
              parts=(PartitionRange(0, 0, 5, 9, cold_until_ms=7),), candidate=chosen,
              dsn="postgresql://replay@db/ledger", partitions=12, labels={"t1": True})  # fmt: skip
    # What the process pool does to a job on its way to a worker (and the report back).
    crossed = pickle.loads(pickle.dumps(job))  # noqa: S301 - our own bytes
    assert crossed == job
    part = ReportPart(decided=1)
    part.add(Replayed("t1", "acct-1", 0, 5, "2026-11-30T10:00:00+00:00", "12.50", "INR",
                      Outcome.APPROVE, 0.1, (), (), (), cold=True),
             LiveDecision(Outcome.REVIEW, 0.2, "m", ("r",), ()), True)  # fmt: skip
    assert pickle.loads(pickle.dumps(part)) == part  # noqa: S301 - our own bytes

    pipeline = build_pipeline(crossed.candidate)
    record = SourceRecord("transactions", 0, 0, 0, b"acct-1",
                          encode_transaction(transaction("t1", "m-ok")))  # fmt: skip
    ((_record, decision),) = pipeline.decide([record], {}, lambda _a: None, BatchResult())
    # The merchant's risk and the account's home reached the worker's pipeline.
    assert decision.features["merchant_risk_1d"] == 0.25
    assert decision.features["merchant_tx_30d"] == 1200
    assert decision.features["is_home_country"] == 1.0


def test_a_report_knows_every_rule_it_may_name_the_candidates_first() -> None:
    live = [spec("uuid-1", name="Velocity"), spec("uuid-2", name="Big")]
    changed = RuleSpec(rule_id="cand", version=2, name="Velocity", expression="count_1h > 9",
                       action=RuleAction.parse("REVIEW"))  # fmt: skip
    rules, _touched = overlay(live, [changed])
    known = Candidate(rules=tuple(rules)).known_rules(live)
    assert {rid: (s.name, s.version) for rid, s in known.items()} == {
        "uuid-1": ("Velocity", 1),  # replaced, but its live hits are in the ledger
        "uuid-2": ("Big", 1),
        "cand": ("Velocity", 2),
    }


def test_rules_given_as_specs_replace_the_live_rule_of_the_same_id() -> None:
    reference = reference_of_the_live_topics()
    live = next(iter(reference.rules.specs.values()))
    draft = RuleSpec(rule_id=live.rule_id, version=live.version + 1, name=live.name,
                     expression="amount > 1.0", action=RuleAction.parse("DECLINE"))  # fmt: skip
    chosen = candidate(ReplayRequest(rules=(draft,)), ReplaySettings(), reference)
    by_id = {spec.rule_id: spec for spec in chosen.rules}
    assert by_id[live.rule_id] == draft
    assert len(chosen.rules) == len(reference.rules.specs)
    assert chosen.changed == (live.rule_id,)
