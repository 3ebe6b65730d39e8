"""Announcing models on the real broker: the topic's records, the commands, the bootstrap."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from deploy.local.pipeline_cli import _announce_current
from fraudsim.announce import announce, announced
from fraudsim.registry import current_version
from fraudsim.simulate import SimConfig, simulate
from fraudsim.tables import write_dataset
from schemas.connections import KafkaConnection
from schemas.topics import TopicSpec
from sentinel_cli.main import app
from tests.support.models import QUICK_TRAINING, train_tiny_model

pytestmark = pytest.mark.integration


@pytest.fixture
def kafka(project_topics: dict[str, TopicSpec], monkeypatch: pytest.MonkeyPatch) -> KafkaConnection:
    """This test's topics, named by the environment the commands read too."""
    prefix = project_topics["models"].name.removesuffix("models")
    monkeypatch.setenv("SENTINEL_KAFKA_TOPIC_PREFIX", prefix)
    return KafkaConnection()


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    train_tiny_model(tmp_path, "a")
    train_tiny_model(tmp_path, "b", rounds=3)
    return tmp_path


def test_the_latest_announcement_per_role_is_what_is_announced(kafka: KafkaConnection) -> None:
    assert announced(kafka) == {}
    announce(kafka, "champion", "a")
    announce(kafka, "challenger", "b", forced=True)
    announce(kafka, "champion", "b")
    roles = announced(kafka)
    assert {role: a.version for role, a in roles.items()} == {"champion": "b", "challenger": "b"}
    assert roles["challenger"].forced and "@" in roles["challenger"].announced_by
    announce(kafka, "challenger", None)
    assert set(announced(kafka)) == {"champion"}


def test_promoting_the_challenger_announces_it_moves_current_and_ends_the_shadow(
    kafka: KafkaConnection, registry: Path
) -> None:
    runner = CliRunner()
    where = ["--registry", str(registry)]
    challenged = runner.invoke(app, ["models", "challenge", "b", *where])
    assert challenged.exit_code == 0, challenged.output
    assert announced(kafka)["challenger"].version == "b"
    promoted = runner.invoke(app, ["models", "promote", "b", *where])
    assert promoted.exit_code == 0, promoted.output
    assert {role: a.version for role, a in announced(kafka).items()} == {"champion": "b"}
    assert current_version(registry) == "b"
    shown = runner.invoke(app, ["models", "announced"])
    assert shown.exit_code == 0 and "champion" in shown.output and "b" in shown.output


def test_bootstrap_announces_current_only_when_no_champion_is(
    kafka: KafkaConnection, registry: Path
) -> None:
    assert current_version(registry) == "b"
    _announce_current(registry)
    assert announced(kafka)["champion"].version == "b"
    announce(kafka, "champion", "a")  # promoted elsewhere: the bootstrap leaves it alone
    _announce_current(registry)
    assert announced(kafka)["champion"].version == "a"


def test_training_announces_the_model_it_makes_current(
    kafka: KafkaConnection, tmp_path: Path
) -> None:
    data = tmp_path / "sim"
    # Small: the four folds and the final model need 42 days, the test only their outcome.
    write_dataset(simulate(SimConfig(customers=100, terminals=200, days=45, seed=3)), data)
    trained = CliRunner().invoke(
        app,
        ["train", "--data", str(data), "--registry", str(tmp_path / "models"),
         "--version", "fresh", "--no-search", "--workers", "1", *QUICK_TRAINING],
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    assert "fresh announced as champion" in trained.output
    assert announced(kafka)["champion"].version == "fresh"
    assert current_version(tmp_path / "models") == "fresh"
