"""What the decision code reports through its observer (the agents turn it into metrics)."""

from __future__ import annotations

from pathlib import Path

import pytest

from decision_core.judge import RulesJudge
from decision_core.live_models import ModelBook, shadow_scores
from decision_core.observer import Observer
from decision_core.reference import ReferenceData
from decision_core.scoring import Model
from rule_engine import BreakerConfig, DeclineBreaker, Thresholds
from schemas.enums import Outcome
from tests.support.models import train_tiny_model
from tests.unit.decision_core.test_judge import rule, tx


class Recorder(Observer):
    def __init__(self) -> None:
        self.seen: list[tuple[str, object]] = []

    def rule_failed(self, rule_id: str) -> None:
        self.seen.append(("rule_failed", rule_id))

    def breaker_degraded(self, rule_id: str) -> None:
        self.seen.append(("breaker_degraded", rule_id))

    def rules_loaded(self, count: int) -> None:
        self.seen.append(("rules_loaded", count))

    def rule_rejected(self, rule_id: str) -> None:
        self.seen.append(("rule_rejected", rule_id))

    def model_swapped(self, role: str) -> None:
        self.seen.append(("model_swapped", role))

    def model_load_failed(self, role: str) -> None:
        self.seen.append(("model_load_failed", role))

    def challenger_failed(self) -> None:
        self.seen.append(("challenger_failed", None))


def test_the_silent_observer_is_the_default_and_does_nothing() -> None:
    reference = ReferenceData()
    reference.apply("rules", b"bad", rule("bad", "amount >"))
    assert "bad" in reference.rules.rejected  # applied as before, reported to no one


def test_reference_data_reports_the_rule_set_and_rejected_rules() -> None:
    recorder = Recorder()
    reference = ReferenceData(observer=recorder)
    reference.apply("rules", b"ok", rule("ok", "amount > 5000"))
    reference.apply("rules", b"bad", rule("bad", "amount >"))
    reference.apply("rules", b"ok", None)
    # The count is the rule set's size, rejected versions included (as the gauge was).
    assert recorder.seen == [
        ("rules_loaded", 1),
        ("rule_rejected", "bad"),
        ("rules_loaded", 2),
        ("rules_loaded", 1),
    ]


def test_the_judge_reports_rule_failures_and_breaker_degradations() -> None:
    recorder = Recorder()
    reference = ReferenceData()
    reference.apply("rules", b"nulls", rule("nulls", "travel_speed_kmh > 900", "DECLINE"))
    reference.apply("rules", b"all", rule("all", "amount > 1", "DECLINE"))
    breaker = DeclineBreaker(BreakerConfig(max_share=0.5, min_volume=1, window_events=10))
    judge = RulesJudge(reference, Thresholds(0.5, 0.9), breaker, observer=recorder)
    verdict = judge(tx(), {"travel_speed_kmh": float("nan")}, 0.0, None)
    assert verdict.outcome is Outcome.REVIEW  # "all" declines everything: capped at once
    assert sorted(recorder.seen) == [("breaker_degraded", "all"), ("rule_failed", "nulls")]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    train_tiny_model(root, "m-1")
    return root


def test_the_model_book_reports_swaps_and_load_failures(registry: Path) -> None:
    recorder = Recorder()
    book = ModelBook(registry, observer=recorder)
    book.set("champion", "m-1")
    book.set("challenger", "missing")
    book.set("challenger", None)
    assert recorder.seen == [
        ("model_swapped", "champion"),
        ("model_load_failed", "challenger"),
        ("model_swapped", "challenger"),
    ]


def test_a_failing_challenger_is_reported(registry: Path) -> None:
    recorder = Recorder()
    model = Model.load(registry / "m-1")
    broken = Model(model.booster, "broken", ("only_one_feature",))
    assert shadow_scores(broken, [{"amount": 1.0}], recorder) == [None]
    assert shadow_scores(model, [{"amount": 1.0}], recorder) != [None]
    assert recorder.seen == [("challenger_failed", None)]
