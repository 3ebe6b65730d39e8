"""A small end-to-end training run, the registry around it, and the `sentinel` commands."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from rich.progress import Progress
from typer.testing import CliRunner

from decision_core.scoring import Model, ModelRegistry
from fraudsim.registry import RegistryError, current_version, entries, promote
from fraudsim.train.data import load
from fraudsim.train.evaluate import Setup, run_fold
from fraudsim.train.features import feature_matrix
from fraudsim.train.folds import Protocol
from fraudsim.train.merchant_risk import NAMES, merchant_risk
from fraudsim.train.model import Params
from fraudsim.train.run import Options, Result, train
from schemas.features import FEATURE_NAMES, LIVE_FEATURE_NAMES
from sentinel_cli.main import app
from tests.support.models import QUICK_PARAMS, QUICK_TRAINING

PROTOCOL = Protocol(folds=2)


def run(data: Path, registry: Path, version: str, **changes: object) -> Result:
    """A training run with quick hyper-parameters: these tests are about what it publishes."""
    options = Options(
        data, registry, version=version, workers=1, protocol=PROTOCOL, params=QUICK_PARAMS,
        **changes,
    )  # type: ignore[arg-type]  # fmt: skip
    return train(options, Progress(disable=True))


@pytest.fixture(scope="module")
def registry(train_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run's registry (``v1``, current), shared: a test that changes it copies it."""
    root = tmp_path_factory.mktemp("registry")
    run(train_dir, root, "v1")
    return root


def own_copy(registry: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(registry, tmp_path / "registry"))


def test_training_publishes_a_loadable_current_model_with_its_card(registry: Path) -> None:
    model = Model.load(registry / "v1")
    # Merchant risk is in by default, and the agents compute it: the model is current.
    assert model.feature_names == LIVE_FEATURE_NAMES and model.version == "v1"
    assert ModelRegistry(registry).current() is not None and current_version(registry) == "v1"
    card = json.loads((registry / "v1" / "card.json").read_text())
    metrics = card["validation"]["test_metrics"]
    assert {"auc_roc", "average_precision", "card_precision_at_100"} <= set(metrics)
    assert 0.5 < metrics["auc_roc"]["mean"] <= 1.0
    assert [f["start_day"] for f in card["validation"]["test_folds"]] == [39, 32]
    assert 0 <= card["thresholds"]["review_at"] <= card["thresholds"]["decline_at"] <= 1
    assert card["data"]["transactions"] > 30_000 and card["data"]["late_labels"] == 0
    # The artifact trains on the newest week the delay allows (the data holds 60 days);
    # its thresholds came from a model of two weeks before, judged on the newest week.
    assert card["training"]["days"] == [46, 53]
    assert card["holdout"]["trained_on_days"] == [39, 46] and card["holdout"]["days"] == [53, 60]
    assert (registry / "v1" / "pr_curve.png").stat().st_size > 1_000
    assert (registry / "v1" / "feature_importance.png").stat().st_size > 1_000
    scored = model.score([{name: 1.0 for name in LIVE_FEATURE_NAMES}])
    assert 0.0 <= scored[0].score <= 1.0


def test_without_merchant_risk_and_a_model_the_agents_cannot_serve_is_staged(
    train_dir: Path, registry: Path, tmp_path: Path
) -> None:
    registry = own_copy(registry, tmp_path)
    result = run(train_dir, registry, "v2-plain", merchant_risk=False, promote=False)
    assert not result.promoted and current_version(registry) == "v1"
    assert Model.load(registry / "v2-plain").feature_names == FEATURE_NAMES
    assert not (registry / ".staging").exists()
    card_path = registry / "v2-plain" / "card.json"
    card = json.loads(card_path.read_text())
    foreign = {**card, "feature_names": [*card["feature_names"], "not_computed_live"]}
    card_path.write_text(json.dumps(foreign))
    with pytest.raises(RegistryError, match="does not compute"):
        promote(registry, "v2-plain")
    assert [(e.version, e.current, e.live_ready) for e in entries(registry)] == [
        ("v1", True, True),
        ("v2-plain", False, False),
    ]
    card_path.write_text(json.dumps(card))
    with pytest.raises(RegistryError, match="already exists"):
        run(train_dir, registry, "v1")


def test_promote_moves_current_and_refuses_unknown_versions(
    train_dir: Path, registry: Path, tmp_path: Path
) -> None:
    registry = own_copy(registry, tmp_path)  # v1 current, as its run made it
    run(train_dir, registry, "b", promote=False)
    assert current_version(registry) == "v1"
    assert promote(registry, "b").version == "b" and current_version(registry) == "b"
    with pytest.raises(RegistryError, match="no model"):
        promote(registry, "../v1")


def test_merchant_risk_counts_the_days_ending_a_week_before(train_dir: Path) -> None:
    data = load(train_dir)
    values = merchant_risk(data)
    hour = data.ts_ms // 3_600_000
    for row in np.flatnonzero(data.day == 45)[:20].tolist():
        end = hour[row] - 7 * 24
        week = (data.merchant == data.merchant[row]) & (hour >= end - 7 * 24) & (hour < end)
        assert values[row, NAMES.index("merchant_tx_7d")] == week.sum()
        expected = data.fraud[week].mean() if week.any() else 0.0
        assert values[row, NAMES.index("merchant_risk_7d")] == pytest.approx(expected)


def test_a_label_counts_from_when_it_arrived(train_dir: Path) -> None:
    data = load(train_dir)
    fraud = np.flatnonzero(data.fraud)
    late = fraud[::2]
    day_ms = 86_400_000
    labelled = data.labelled_at_ms.copy()
    labelled[late] = data.ts_ms[late] + 40 * day_ms  # chargebacks 40 days on
    chargebacks = dataclasses.replace(data, labelled_at_ms=labelled)
    assert chargebacks.late_labels(7) == len(late) and data.late_labels(7) == 0
    at = int(data.ts_ms[fraud[len(fraud) // 2]]) + 20 * day_ms
    known = chargebacks.known_fraud(at)
    assert (known == (data.fraud & (labelled < at))).all() and known.any()
    # Frauds before `at` whose chargeback had not arrived: genuine to a model trained then.
    pending = late[(data.ts_ms[late] < at) & (labelled[late] >= at)]
    assert len(pending) and not known[pending].any() and data.known_fraud(at)[pending].any()
    assert chargebacks.known_fraud(int(labelled.max()) + 1).sum() == data.fraud.sum()


def test_a_fold_trains_on_the_labels_known_when_its_test_week_begins(train_dir: Path) -> None:
    data = load(train_dir)
    features = feature_matrix(data.columns, data.account).matrix
    setup = Setup(data, features, FEATURE_NAMES, PROTOCOL, 1)
    params = Params(3, 0.3, 20)
    on_time = run_fold(setup, 32, params)
    # Every label of the fold's training week arriving only after its test week began:
    # nothing to learn from, as a model trained that day would have had.
    never = dataclasses.replace(data, labelled_at_ms=data.ts_ms + 30 * 86_400_000)
    with pytest.raises(ValueError, match="single class"):
        run_fold(dataclasses.replace(setup, data=never), 32, params)
    assert on_time.train_rows > 0 and on_time.test_frauds > 0


def test_the_commands_are_registered_and_list_the_registry(train_dir: Path, registry: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["--help"]).exit_code == 0
    listed = runner.invoke(app, ["models", "list", "--registry", str(registry)])
    assert listed.exit_code == 0 and "v1" in listed.output
    refused = runner.invoke(app, ["models", "promote", "nope", "--registry", str(registry)])
    assert refused.exit_code == 1
    missing = runner.invoke(app, ["train", "--data", str(registry / "none")])
    assert missing.exit_code == 1 and "simulate generate" in missing.output
    # A version the registry holds is refused up front, with a message, not a traceback.
    where = ["--data", str(train_dir), "--registry", str(registry), "--no-announce"]
    taken = runner.invoke(app, ["train", *where, "--version", "v1", *QUICK_TRAINING])
    assert taken.exit_code == 1 and "already exists" in taken.output, taken.output


def test_promote_and_challenge_refuse_before_announcing_anything(tmp_path: Path) -> None:
    staged = tmp_path / "risky"
    staged.mkdir()
    names = [*FEATURE_NAMES, "feature_nobody_computes"]
    (staged / "card.json").write_text(json.dumps({"version": "risky", "feature_names": names}))
    runner = CliRunner()
    where = ["--registry", str(tmp_path)]
    for args in (["promote", "risky"], ["challenge", "risky"], ["challenge", "../risky"]):
        refused = runner.invoke(app, ["models", *args, *where])
        assert refused.exit_code == 1, refused.output
    assert "does not compute" in runner.invoke(app, ["models", "challenge", "risky", *where]).output
    for args in ([], ["risky", "--clear"]):
        assert runner.invoke(app, ["models", "challenge", *args, *where]).exit_code == 2


def test_simulate_generate_writes_the_dataset(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "generate",
            "--out",
            str(tmp_path),
            "--customers",
            "30",
            "--terminals",
            "60",
            "--days",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    data = load(tmp_path)
    assert len(data) > 100 and data.days == 5


def test_rows_the_live_path_refuses_leave_every_column_together(train_dir: Path) -> None:
    data = load(train_dir)
    accepted = np.arange(len(data)) % 50 != 7
    kept = data.accepted_only(accepted)
    assert (len(kept), kept.refused) == (int(accepted.sum()), int((~accepted).sum()))
    # Each kept row keeps its own id, time, amount, account and label.
    ids = [data.columns.values["transaction_id"][i] for i in np.flatnonzero(accepted)]
    assert kept.columns.values["transaction_id"] == ids
    assert kept.columns.ts_ms == list(data.ts_ms[accepted]) == list(kept.ts_ms)
    assert kept.columns.cents == [data.columns.cents[i] for i in np.flatnonzero(accepted)]
    np.testing.assert_array_equal(kept.scenario, data.scenario[accepted])
    np.testing.assert_array_equal(kept.account, data.account[accepted])
