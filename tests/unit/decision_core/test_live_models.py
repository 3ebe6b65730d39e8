"""The models a worker scores with: announcements applied, swaps, thresholds from the card."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from decision_core.live_models import ModelBook, shadow_scores
from decision_core.scoring import Model
from decision_core.thresholds import ThresholdOverrides, card_thresholds, select_thresholds
from rule_engine import Thresholds
from schemas.codec import encode_model_announcement, encode_rule
from schemas.enums import RuleMode
from schemas.errors import SchemaError
from schemas.records import ModelAnnouncement, Rule
from tests.support.models import train_tiny_model

CARD = {"thresholds": {"review_at": 0.2, "decline_at": 0.7, "review_rate": 0.01}}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    train_tiny_model(root, "m-1")
    train_tiny_model(root, "m-2", rounds=5, card=CARD)
    return root


def announcement(role: str, version: str) -> bytes:
    record = ModelAnnouncement(
        role=role, version=version, announced_at=datetime.now(UTC), announced_by="t@h"
    )
    return encode_model_announcement(record)


class CountingLoader:
    def __init__(self) -> None:
        self.loaded: list[str] = []

    def __call__(self, directory: Path) -> Model:
        self.loaded.append(directory.name)
        return Model.load(directory)


def book(registry: Path, **overrides: Any) -> tuple[ModelBook, CountingLoader]:
    loader = CountingLoader()
    return ModelBook(registry, ThresholdOverrides(**overrides), loader), loader


@pytest.mark.parametrize(
    ("card", "overrides", "expected", "source"),
    [
        (None, {}, Thresholds(0.5, 0.9), "default"),
        (CARD, {}, Thresholds(0.2, 0.7), "card"),
        (CARD, {"review_at": 0.3, "decline_at": 0.8}, Thresholds(0.3, 0.8), "environment"),
        (CARD, {"decline_at": 0.95}, Thresholds(0.2, 0.95), "card+environment"),
        (None, {"review_at": 0.6}, Thresholds(0.6, 0.9), "environment"),
        # An override above the card's decline threshold lifts it: never decline below review.
        (CARD, {"review_at": 0.8}, Thresholds(0.8, 0.8), "card+environment"),
        ({"thresholds": {"review_at": "x"}}, {}, Thresholds(0.5, 0.9), "default"),
        (
            {"thresholds": {"review_at": 0.9, "decline_at": 0.1}},
            {},
            Thresholds(0.5, 0.9),
            "default",
        ),
    ],
)
def test_thresholds_come_from_the_environment_then_the_card_then_the_defaults(
    card: dict[str, Any] | None, overrides: dict[str, float], expected: Thresholds, source: str
) -> None:
    assert select_thresholds(card, ThresholdOverrides(**overrides)) == (expected, source)


def test_the_card_thresholds_training_writes_are_read() -> None:
    assert card_thresholds(CARD) == Thresholds(0.2, 0.7)
    assert card_thresholds({}) is None


def test_an_announced_champion_is_loaded_and_brings_its_card_thresholds(registry: Path) -> None:
    models, _loader = book(registry)
    assert models.live().champion is None and models.live().thresholds == Thresholds(0.5, 0.9)
    models.apply("models", b"champion", announcement("champion", "m-2"))
    live = models.live()
    assert live.champion is not None and live.champion.version == "m-2"
    assert live.challenger is None and live.thresholds == Thresholds(0.2, 0.7)
    assert models.announced == {"champion": "m-2"}


def test_a_swap_replaces_the_whole_set_and_leaves_the_old_one_intact(registry: Path) -> None:
    models, _loader = book(registry)
    models.apply("models", b"champion", announcement("champion", "m-1"))
    before = models.live()
    models.apply("models", b"champion", announcement("champion", "m-2"))
    after = models.live()
    # A batch holding `before` scores with it to the end, whatever happened meanwhile.
    assert before is not after
    assert before.champion is not None and before.champion.version == "m-1"
    assert before.thresholds == Thresholds(0.5, 0.9)
    assert after.champion is not None and after.champion.version == "m-2"


def test_a_challenger_is_set_cleared_and_reused_when_promoted(registry: Path) -> None:
    models, loader = book(registry)
    models.apply("models", b"champion", announcement("champion", "m-1"))
    models.apply("models", b"challenger", announcement("challenger", "m-2"))
    challenger = models.live().challenger
    assert challenger is not None and challenger.version == "m-2"
    # The challenger wins: promoted, it is the very object already loaded.
    models.apply("models", b"champion", announcement("champion", "m-2"))
    assert models.live().champion is challenger
    models.apply("models", b"challenger", None)  # tombstone: the role is cleared
    assert models.live().challenger is None and models.announced == {"champion": "m-2"}
    assert loader.loaded == ["m-1", "m-2"]


def test_the_environment_overrides_the_champions_card(registry: Path) -> None:
    models, _loader = book(registry, decline_at=0.99)
    models.apply("models", b"champion", announcement("champion", "m-2"))
    assert models.live().thresholds == Thresholds(0.2, 0.99)


def test_a_model_that_does_not_load_leaves_the_role_as_it_was(registry: Path) -> None:
    models, _loader = book(registry)
    models.apply("models", b"champion", announcement("champion", "m-1"))
    kept = models.live()
    models.apply("models", b"champion", announcement("champion", "missing"))
    assert models.live() is kept
    assert "missing" in models.failed["champion"]
    models.apply("models", b"champion", announcement("champion", "m-2"))
    assert "champion" not in models.failed


@pytest.mark.parametrize("version", ["../m-1", ".staging"])
def test_versions_outside_the_registry_are_refused(registry: Path, version: str) -> None:
    models, loader = book(registry)
    models.apply("models", b"champion", announcement("champion", version))
    assert models.live().champion is None and loader.loaded == []
    assert "champion" in models.failed


def test_without_a_registry_folder_an_announcement_is_recorded_as_failed() -> None:
    models = ModelBook(None)
    models.apply("models", b"champion", announcement("champion", "m-1"))
    assert models.live().champion is None and "champion" in models.failed


def test_unknown_roles_and_foreign_records_are_refused(registry: Path) -> None:
    models, _loader = book(registry)
    with pytest.raises(ValueError, match="unknown model role"):
        models.apply("models", b"referee", announcement("champion", "m-1"))
    with pytest.raises(SchemaError):
        models.apply("models", b"champion", b"\x00\x00\x00\x23\x29garbage")
    rule = Rule(
        rule_id="r", version=1, name="r", description="", expression="true", action="REVIEW",
        priority=1, mode=RuleMode.ACTIVE, author="a", updated_at=datetime.now(UTC),
    )  # fmt: skip
    with pytest.raises(SchemaError):
        models.apply("models", b"champion", encode_rule(rule))
    assert models.live().champion is None


def test_shadow_scores_are_one_per_row_and_none_when_the_challenger_fails(
    registry: Path,
) -> None:
    model = Model.load(registry / "m-1")
    rows = [{"amount": 15_000.0, "new_country": 1.0}, {"amount": 10.0, "new_country": 0.0}]
    scores = shadow_scores(model, rows)
    assert [round(s or 0, 6) for s in scores] == [round(s.score, 6) for s in model.score(rows)]
    assert shadow_scores(None, rows) == [None, None]
    broken = Model(model.booster, "broken", ("only_one_feature",))
    assert shadow_scores(broken, rows) == [None, None]
