"""The merchant-risk job's pure parts, and the agents' side: reference data, pipeline, rules."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from decision_core.features.merchant import DELAY_HOURS, HOUR_MS
from decision_core.judge import RulesJudge
from decision_core.pipeline import DecisionPipeline
from decision_core.reference import ReferenceData
from decision_core.scoring import ModelRegistry
from rule_engine import RuleSpec, Thresholds
from schemas.codec import decode_decision, encode_merchant_risk
from schemas.enums import Outcome, RuleMode
from schemas.features import MERCHANT_FEATURE_NAMES
from schemas.records import MerchantRisk, Rule
from stream_agents.merchant_risk.compute import (
    LedgerCounts,
    changes,
    hour_start,
    records_for_hour,
)
from stream_agents.merchant_risk.job import HourReport, MerchantRiskJob, MerchantRiskSettings
from stream_agents.merchant_risk.topic import PublishError
from tests.unit.decision_core.test_pipeline import T0, records, store, tx

HOUR = int(T0.timestamp() * 1000) // HOUR_MS
NOW = datetime(2026, 11, 30, 10, 0, 5, tzinfo=UTC)


def risk(merchant: str, hour: int, tx_7d: int = 4, risk_7d: float = 0.25) -> MerchantRisk:
    return MerchantRisk(
        merchant_id=merchant, hour=hour_start(hour), tx_1d=1, risk_1d=0.0, tx_7d=tx_7d,
        risk_7d=risk_7d, tx_30d=9, risk_30d=1 / 9, computed_at=NOW,
    )  # fmt: skip


def test_records_for_an_hour_carry_the_definitions_values_and_the_hour() -> None:
    window = LedgerCounts.from_rows(
        [
            ("m-b", HOUR - DELAY_HOURS - 1, 3, 1),
            ("m-a", HOUR - DELAY_HOURS - 30, 2, 0),
            ("m-b", HOUR - DELAY_HOURS - 100, 1, 1),
            ("m-old", HOUR - DELAY_HOURS - 24 * 31, 5, 5),  # outside every window
            ("m-c", HOUR - 1, 2, 1),  # the hour before: only in the recent windows
        ]
    )
    got = records_for_hour(window, HOUR, NOW)
    assert set(got) == {"m-a", "m-b", "m-c"}
    b = got["m-b"]
    assert (b.tx_1d, b.risk_1d, b.tx_7d, b.risk_7d, b.tx_30d, b.risk_30d) == (
        3, 1 / 3, 4, 0.5, 4, 0.5,
    )  # fmt: skip
    assert (got["m-a"].tx_1d, got["m-a"].tx_7d) == (0, 2)
    # The recent windows end at the hour: m-b's hours are 169 and 268 before it.
    assert (b.recent_tx_1d, b.recent_tx_7d, b.recent_tx_30d, b.recent_risk_30d) == (0, 0, 4, 0.5)
    c = got["m-c"]
    assert (c.tx_30d, c.recent_tx_1d, c.recent_risk_1d, c.recent_tx_30d) == (0, 2, 0.5, 2)
    assert b.hour == T0 and b.computed_at == NOW


def test_changes_republish_every_value_and_tombstone_the_merchants_gone_to_zero() -> None:
    current = {"m-a": risk("m-a", HOUR), "m-c": risk("m-c", HOUR)}
    assert changes({"m-a", "m-b", "m-z"}, current) == [
        ("m-a", current["m-a"]),
        ("m-c", current["m-c"]),
        ("m-b", None),
        ("m-z", None),
    ]
    assert changes(set(), {}) == []


def test_reference_data_holds_the_latest_record_and_a_tombstone_removes_it() -> None:
    data = ReferenceData()
    data.apply("merchant-risk", b"m-1", encode_merchant_risk(risk("m-1", HOUR - 1)))
    data.apply("merchant-risk", b"m-1", encode_merchant_risk(risk("m-1", HOUR, tx_7d=8)))
    held = data.merchant_risk("m-1")
    assert held is not None and held.hour == HOUR
    assert held.values == (1.0, 0.0, 8.0, 0.25, 9.0, 1 / 9, *(0.0,) * 6)
    data.apply("merchant-risk", b"m-1", None)
    assert data.merchant_risk("m-1") is None
    # A v1 record (before the recent windows) still reads: its recent values are zeros.
    recent = MerchantRisk.of("m-2", hour_start(HOUR), [2.0, 0.5] * 6, NOW)
    data.apply("merchant-risk", b"m-2", encode_merchant_risk(recent, version=1))
    v1 = data.merchant_risk("m-2")
    assert v1 is not None and v1.values == (2.0, 0.5) * 3 + (0.0,) * 6
    data.apply("merchant-risk", b"m-2", encode_merchant_risk(recent))
    assert data.merchant_risk("m-2").values == (2.0, 0.5) * 6  # type: ignore[union-attr]


def pipeline_with(reference: ReferenceData, registry: Path) -> DecisionPipeline:
    judge = RulesJudge(reference, Thresholds(0.5, 0.9))
    return DecisionPipeline(
        ModelRegistry(registry), judge, clock=lambda: T0, merchants=reference.merchant_risk
    )


@pytest.mark.parametrize(("stamp", "expected_7d"), [(HOUR, 4.0), (HOUR - 1, 4.0), (HOUR - 5, 0.0)])
def test_decisions_record_the_merchant_values_that_apply_to_the_transactions_hour(
    tmp_path: Path, stamp: int, expected_7d: float
) -> None:
    reference = ReferenceData()
    reference.apply("merchant-risk", b"m-1", encode_merchant_risk(risk("m-1", stamp)))
    result = pipeline_with(reference, tmp_path).process(
        records(tx(minutes=5), tx(minutes=6, merchant_id="m-unknown")), store()[1]
    )
    known, unknown = (decode_decision(o.value) for o in result.outgoing if o.role == "decisions")
    assert known.features["merchant_tx_7d"] == expected_7d
    assert known.features["merchant_risk_7d"] == (0.25 if expected_7d else 0.0)
    assert {unknown.features[name] for name in MERCHANT_FEATURE_NAMES} == {0.0}
    assert known.features["count_1h"] == 1.0  # the account's own features are still there


def test_rules_can_read_merchant_risk(tmp_path: Path) -> None:
    reference = ReferenceData()
    rule = Rule(
        rule_id="risky-merchant", version=1, name="risky merchant", description="",
        expression="merchant_risk_7d > 0.2 && merchant_tx_7d >= 4.0", action="REVIEW",
        priority=10, mode=RuleMode.ACTIVE, author="test", updated_at=T0 - timedelta(days=1),
    )  # fmt: skip
    reference.rules = reference.rules.with_rule(RuleSpec.from_record(rule))
    reference.apply("merchant-risk", b"m-1", encode_merchant_risk(risk("m-1", HOUR)))
    result = pipeline_with(reference, tmp_path).process(
        records(tx(), tx(merchant_id="m-2")), store()[1]
    )
    risky, plain = (decode_decision(o.value) for o in result.outgoing if o.role == "decisions")
    assert risky.outcome is Outcome.REVIEW
    assert [hit.rule_id for hit in risky.rules_fired] == ["risky-merchant"]
    assert plain.outcome is Outcome.APPROVE


class ScriptedJob(MerchantRiskJob):
    """The real loop; each hour's work replaced by a record of it (the first attempt fails)."""

    def __init__(self, clock: list[datetime], stop_after: int) -> None:
        super().__init__(MerchantRiskSettings(settle_s=5, retry_s=30), clock=lambda: clock[0])
        self.hours: list[int] = []
        self.stopping = threading.Event()
        self.stop_after = stop_after

    def run_hour(self, hour: int) -> HourReport:
        self.hours.append(hour)
        if len(self.hours) == 1:
            raise PublishError("broker away")
        if len(self.hours) >= self.stop_after:
            self.stopping.set()
        return HourReport(hour_start(hour), 0, 0, 0.0)


def test_the_loop_computes_now_then_each_top_of_the_hour_and_retries_a_failure() -> None:
    clock = [datetime(2026, 11, 30, 10, 20, tzinfo=UTC)]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += timedelta(seconds=seconds)

    job = ScriptedJob(clock, stop_after=4)
    try:
        job.run(job.stopping, sleep)
    finally:
        job.close()
    assert job.hours == [HOUR, HOUR, HOUR + 1, HOUR + 2]  # 10:00 failed, retried; 11:00; 12:00
    # Then 10:59:35 -> 11:00:05 (settle) and on; the last wait ends at once on the real event.
    assert waits == [30, 40 * 60 - 30 + 5, 3600, 3600]
