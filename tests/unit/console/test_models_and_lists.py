"""The Models and Lists pages' pure parts: model cards of every age, which registry files
may be served, list values typed by an analyst, and the webhooks page's figures."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from console.lists import MAX_ADDED, like_escaped, parsed_values
from console.model_cards import figure_path, figures
from console.webhooks import Totals, delivery_figures
from schemas.webhook_stats import BUCKETS, bucket
from tests.support.models import card_like_training


def test_a_training_runs_card_gives_every_figure() -> None:
    card = figures("xgb-1", card_like_training(1))
    assert card.test["auc_roc"].mean == pytest.approx(0.89)
    assert card.test["card_precision_at_100"].std == pytest.approx(0.02)
    assert card.scenario_recall["card_testing"].mean == pytest.approx(0.61)
    assert card.holdout == {"auc_roc": 0.92, "average_precision": 0.80}
    assert card.thresholds is not None and card.thresholds.review_precision == 0.95
    assert (card.trees, card.features, card.created_at) == (15, 0, "2026-12-01T10:00:00+00:00")
    assert card.published == {"auc_roc": [0.869, 0.872]} and len(card.folds) == 1


def test_a_bare_or_malformed_card_gives_what_it_holds() -> None:
    bare = figures("tiny-1", {"feature_names": ["amount", "count_1h"], "version": "tiny-1"})
    assert bare.features == 2 and bare.test == {} and bare.thresholds is None
    odd = figures(
        "odd",
        {
            "validation": {"test_metrics": {"auc_roc": "high", "average_precision": 0.7}},
            "thresholds": {"review_at": True, "decline_at": 0.9},
            "model": "xgboost",
            "holdout": [],
            "published_reference": {"auc_roc": ["x"]},
            "validation_folds": None,
        },
    )
    assert list(odd.test) == ["average_precision"] and odd.test["average_precision"].std is None
    assert odd.thresholds is None and odd.trees is None and odd.published == {}


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    root = tmp_path / "registry"
    (root / "v1").mkdir(parents=True)
    (root / "v1" / "pr_curve.png").write_bytes(b"\x89PNG")
    (root / "v1" / "model.ubj").write_bytes(b"{}")
    (root / ".staging" / "v2").mkdir(parents=True)
    (root / ".staging" / "pr_curve.png").write_bytes(b"\x89PNG")
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"secret")
    (root / "v1" / "feature_importance.png").symlink_to(outside)
    (root / "linked").symlink_to(tmp_path)  # a version folder that is a link out
    (tmp_path / "pr_curve.png").write_bytes(b"\x89PNG")
    return root


def test_only_training_figures_inside_the_registry_are_served(registry: Path) -> None:
    assert figure_path(registry, "v1", "pr_curve.png") == (registry / "v1" / "pr_curve.png")
    for version, name in [
        ("v1", "model.ubj"),  # not a figure
        ("v1", "feature_importance.png"),  # a link out of the registry
        ("v1", "../pr_curve.png"),
        ("..", "pr_curve.png"),
        ("../registry/v1", "pr_curve.png"),
        (".staging", "pr_curve.png"),
        ("linked", "pr_curve.png"),  # resolves outside
        ("v1/..", "pr_curve.png"),
        ("", "pr_curve.png"),
        ("v1\x00", "pr_curve.png"),
        ("missing", "pr_curve.png"),
        (os.sep + "etc", "pr_curve.png"),
    ]:
        assert figure_path(registry, version, name) is None, (version, name)


def test_typed_values_are_trimmed_deduplicated_and_checked_by_line() -> None:
    values, problems = parsed_values(" m-1 \r\n\nm-2\nm-1\n4111111111111111\nbad\x07\nzw\u200bj")
    assert values == ["m-1", "m-2"]
    assert [(p.line, p.message.split()[0]) for p in problems] == [
        (5, "looks"),
        (6, "must"),
        (7, "contains"),
    ]
    assert "4111111111111111" not in problems[0].value  # a card number is never echoed
    assert parsed_values("\n  \n")[1][0].message.startswith("give at least one")
    assert parsed_values("x" * 257)[1][0].message == "must be 1 to 256 characters"
    many = "\n".join(f"m-{n}" for n in range(MAX_ADDED + 1))
    assert parsed_values(many)[1][-1].message.startswith(f"at most {MAX_ADDED}")


def test_a_filter_matches_its_text_literally() -> None:
    assert like_escaped(r"50%_off\x") == r"50\%\_off\\x"


def totals(sub_id: str, **changes: object) -> Totals:
    values: dict[str, object] = {
        "subscription_id": sub_id, "deliveries": 10, "successes": 7, "failed_4xx": 1,
        "failed_5xx": 2, "failed_other": 0, "failed_no_response": 0, "dead_lettered": 1,
        "pending": 3, "last_status": 503, "last_attempt_at": datetime(2026, 12, 5, tzinfo=UTC),
    }  # fmt: skip
    return Totals(**(values | changes))  # type: ignore[arg-type]


def test_the_webhooks_figures_merge_the_hours_histograms_per_subscription() -> None:
    fast, slow = [0] * BUCKETS, [0] * BUCKETS
    fast[bucket(7)] = 10
    slow[bucket(300)] = 10
    found = delivery_figures(
        [totals("a"), totals("b", pending=-2, deliveries=0)],
        [("a", fast), ("a", slow)],
    )
    a, b = found["a"], found["b"]
    assert a.p50_ms == pytest.approx(10) and a.p95_ms == pytest.approx(475)
    assert a.failed == 3 and a.failures["5xx"] == 2 and a.retries_pending == 3
    assert b.p50_ms is None and b.retries_pending == 0  # never below zero
