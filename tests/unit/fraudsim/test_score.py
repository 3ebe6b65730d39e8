"""`sentinel score`: warm-up, scores, refused rows and outcomes of an offline run."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from decision_core.scoring import publish
from fraudsim.score.data import Range, ScoreError
from fraudsim.score.output import REJECTED, summary_path
from fraudsim.score.run import Options, load_model, score
from fraudsim.simulate import SimConfig, simulate
from fraudsim.simulate.config import DAY_MS
from fraudsim.tables import LABELS_FILE, TRANSACTIONS_FILE, labels_table, transactions_table
from fraudsim.train import merchant_risk
from fraudsim.train.data import load
from fraudsim.train.features import feature_matrix, observations
from fraudsim.train.model import DEFAULT, fit, predict
from schemas.features import FEATURE_NAMES
from sentinel_cli.main import app
from tests.support.foreign_csv import CHAIN_CONFIG, MAPPING, write_foreign
from tests.support.models import QUICK_PARAMS, QUICK_TRAINING

# About 4,700 transactions over four weeks: scored in about a second.
CONFIG = SimConfig(customers=150, terminals=2000, days=28, seed=4)
THRESHOLDS = {"review_at": 0.02, "decline_at": 0.5}
REFUSED_ID = "refused-zero-amount"


def _plain(table: Any) -> Any:
    """The table without dictionary columns (rows can then be inserted as Python values)."""
    fields = [
        pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
        for f in table.schema
    ]
    return table.cast(pa.schema(fields))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulation with a 0.00 transaction (which the live path refuses) on day 21."""
    sim = simulate(CONFIG)
    table = _plain(transactions_table(sim))
    rows = table.to_pylist()
    at = int(np.searchsorted(sim.rows.ts_ms, int(sim.rows.ts_ms[0]) + 21 * DAY_MS))
    refused = {**rows[at], "transaction_id": REFUSED_ID, "amount": Decimal("0.00")}
    rows.insert(at + 1, refused)
    directory = tmp_path_factory.mktemp("score-data")
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), directory / TRANSACTIONS_FILE)
    pq.write_table(labels_table(sim), directory / LABELS_FILE)
    return directory


@pytest.fixture(scope="module")
def registry(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small model trained on the data set's own features, merchant risk included."""
    data = load(dataset)
    features = feature_matrix(data.columns, data.account)
    data = data.accepted_only(features.accepted)
    matrix = np.hstack([features.matrix[features.accepted], merchant_risk.merchant_risk(data)])
    names = [*FEATURE_NAMES, *merchant_risk.NAMES]
    booster = fit(
        matrix,
        data.fraud,
        names,
        dataclasses.replace(DEFAULT, max_depth=4, eta=0.3, rounds=20),
        threads=1,
    )
    root = tmp_path_factory.mktemp("score-registry")
    publish(root, booster, "small-1", {"feature_names": names, "thresholds": THRESHOLDS})
    return root


def _start(dataset: Path, day: int) -> int:
    first = int(pq.read_table(dataset / TRANSACTIONS_FILE).column("timestamp")[0].value)
    return first - first % DAY_MS + day * DAY_MS


def _scores(path: Path) -> list[dict[str, Any]]:
    return list(pq.read_table(path).to_pylist())


def test_warm_up_gives_the_full_replays_scores_and_differs_without_history(
    dataset: Path, registry: Path, tmp_path: Path
) -> None:
    start = _start(dataset, 20)
    out = tmp_path / "scores.parquet"
    summary = score(Options(dataset, registry, out, scored=Range(start, None), workers=1))
    written = _scores(out)
    # Expected: every row's features from a full replay, predicted by training's `predict`.
    data = load(dataset)
    full = feature_matrix(data.columns, data.account)
    kept = data.accepted_only(full.accepted)
    matrix = np.hstack([full.matrix[full.accepted], merchant_risk.merchant_risk(kept)])
    model = load_model(registry, None)
    expected = predict(model.booster, matrix, model.feature_names)
    by_id = dict(zip(kept.columns.values["transaction_id"], expected.tolist(), strict=True))
    assert summary["warm_up"]["rows"] == int((data.ts_ms < start).sum()) > 1000
    assert len(written) == int((data.ts_ms >= start).sum())
    assert all(r["timestamp"].timestamp() * 1000 >= start for r in written)
    scored = [r for r in written if r["outcome"] != REJECTED]
    assert [r["score"] for r in scored] == [r["model_score"] for r in scored]  # no rules
    assert [r["model_score"] for r in scored] == pytest.approx(
        [by_id[r["transaction_id"]] for r in scored], abs=1e-6
    )

    # The same range without its history: the accounts start empty, the scores move.
    bare = tmp_path / "bare"
    bare.mkdir()
    table = pq.read_table(dataset / TRANSACTIONS_FILE)
    pq.write_table(table.filter(pa.array(data.ts_ms >= start)), bare / TRANSACTIONS_FILE)
    cold = tmp_path / "cold.parquet"
    score(Options(bare, registry, cold, workers=1))
    cold_scores = {r["transaction_id"]: r["score"] for r in _scores(cold)}
    differ = [r for r in scored if abs(cold_scores[r["transaction_id"]] - r["score"]) > 1e-6]
    assert len(differ) > len(scored) / 10


def test_a_refused_row_is_written_as_rejected_with_its_reason(
    dataset: Path, registry: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scores.csv"
    summary = score(Options(dataset, registry, out, scored=Range(_start(dataset, 20), None)))
    rows = pa.csv.read_csv(out).to_pylist()
    (refused,) = [r for r in rows if r["transaction_id"] == REFUSED_ID]
    assert refused["outcome"] == REJECTED
    assert refused["score"] is None
    assert "amount" in refused["rejected_reason"]
    assert summary["rejected"] == 1
    assert summary["rows_scored"] + 1 == len(rows)
    assert json.loads(summary_path(out).read_text()) == summary


def test_outcomes_follow_the_cards_thresholds_and_reasons_push_towards_fraud(
    dataset: Path, registry: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scores.parquet"
    summary = score(Options(dataset, registry, out, scored=Range(_start(dataset, 14), None)))
    rows = [r for r in _scores(out) if r["outcome"] != REJECTED]
    for row in rows:
        s = row["score"]
        want = "DECLINE" if s >= 0.5 else "REVIEW" if s >= 0.02 else "APPROVE"
        assert row["outcome"] == want
        assert row["model_version"] == "small-1"
        assert row["reason_1"] is None or row["reason_1_contribution"] > 0
    assert {"APPROVE", "REVIEW", "DECLINE"} <= set(summary["outcomes"])
    assert summary["thresholds"] == {**THRESHOLDS, "source": "card"}
    assert summary["rules"]["file"] is None and summary["rules"]["rules"] == []


RULES = {
    "rules": [
        {"rule_id": "abroad", "name": "Away from home", "action": "REVIEW", "priority": 10,
         "expression": "home_country != null and country != home_country"},
        {"rule_id": "big", "name": "Big", "expression": "amount > 150", "action": "DECLINE",
         "priority": 20},
        {"rule_id": "listed", "name": "Listed", "expression": "card_token in lists.blocked",
         "action": "DECLINE", "priority": 30},
    ]
}  # fmt: skip


def test_a_rules_file_decides_with_the_home_country_the_replay_learned(
    dataset: Path, registry: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES))
    out = tmp_path / "scores.parquet"
    start = _start(dataset, 14)
    summary = score(Options(dataset, registry, out, scored=Range(start, None), rules=rules))
    data = load(dataset)
    homes = {
        data.columns.values["transaction_id"][i]: (o.home_country, data.columns.record(i))
        for i, o in enumerate(observations(data.columns, range(len(data))))
        if o is not None
    }
    abroad = big = 0
    for row in _scores(out):
        if row["outcome"] == REJECTED:
            continue
        home, tx = homes[row["transaction_id"]]
        fired = set(filter(None, row["rules_fired"].split(";")))
        want = {"abroad"} if home is not None and tx.country != home else set()
        want |= {"big"} if tx.amount > 150 else set()
        assert fired == want, row
        assert "big" not in fired or row["outcome"] == "DECLINE"
        assert "abroad" not in fired or row["outcome"] != "APPROVE"
        abroad, big = abroad + ("abroad" in fired), big + ("big" in fired)
    assert abroad > 0 and big > 0
    assert summary["rules"]["rules"] == ["abroad", "big", "listed"]
    # Offline there are no named lists: a rule reading one fails on every row, counted.
    assert summary["rules"]["failures"] == {"listed": summary["rows_scored"]}


def test_the_range_and_the_output_are_checked(
    dataset: Path, registry: Path, tmp_path: Path
) -> None:
    table = pq.read_table(dataset / TRANSACTIONS_FILE)
    channels = table.column("channel").to_pylist()
    channels[7] = "PIGEON"
    bad = table.set_column(table.schema.get_field_index("channel"), "channel", [channels])
    pq.write_table(bad, tmp_path / TRANSACTIONS_FILE)
    with pytest.raises(ScoreError, match="row 7 .*channel 'PIGEON'"):
        score(Options(tmp_path, registry, tmp_path / "x.csv"))
    (tmp_path / TRANSACTIONS_FILE).unlink()
    with pytest.raises(ScoreError, match="before"):
        Range(5, 5)
    with pytest.raises(ScoreError, match="no model"):
        load_model(registry, "nope")
    with pytest.raises(ScoreError, match="has no transactions"):
        score(Options(tmp_path, registry, tmp_path / "x.csv"))


def test_the_command_scores_a_range(dataset: Path, registry: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    args = ["score", "--data", str(dataset), "--registry", str(registry), "--out", str(out),
            "--from", "2018-04-21", "--to", "2018-04-22 12:00:00", "--workers", "1"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(summary_path(out).read_text())
    assert summary["scored_range"] == {
        "from": "2018-04-21T00:00:00+00:00",
        "to": "2018-04-22T12:00:00+00:00",
    }
    assert summary["rows_scored"] > 0
    bad = CliRunner().invoke(app, [*args[:5], "--out", str(tmp_path / "x.json")])
    assert bad.exit_code == 1
    assert "extension" in bad.output


def test_a_foreign_csv_is_imported_trained_on_and_scored_without_code(tmp_path: Path) -> None:
    """The README's three commands on a bank's CSV of another shape: `sentinel import`
    writes the data set, `sentinel train` a model of it, `sentinel score` scores its last
    week with that model, the weeks before as warm-up."""
    foreign = write_foreign(CHAIN_CONFIG, tmp_path / "export.csv", spoil=False)
    data, registry, out = tmp_path / "imported", tmp_path / "models", tmp_path / "scores.csv"
    runner = CliRunner()
    imported = runner.invoke(
        app, ["import", str(foreign.path), "--mapping", str(MAPPING), "--out", str(data)]
    )
    assert imported.exit_code == 0, imported.output
    args = ["train", "--data", str(data), "--registry", str(registry), "--no-search",
            "--no-announce", "--workers", "1", "--version", "bank-1", *QUICK_TRAINING]  # fmt: skip
    trained = runner.invoke(app, args)
    assert trained.exit_code == 0, trained.output
    assert (registry / "CURRENT").read_text() == "bank-1"
    card = json.loads((registry / "bank-1" / "card.json").read_text())
    assert card["model"]["params"] == dataclasses.asdict(QUICK_PARAMS)  # as the options said
    args = ["score", "--data", str(data), "--registry", str(registry), "--out", str(out),
            "--from", "2018-05-08", "--workers", "1"]  # fmt: skip
    scored = runner.invoke(app, args)
    assert scored.exit_code == 0, scored.output
    summary = json.loads(summary_path(out).read_text())
    assert summary["warm_up"]["rows"] > 0 and summary["rows_scored"] > 0
    rows = pa.csv.read_csv(out).to_pylist()
    assert summary["rows_scored"] + summary["rejected"] == len(rows)
    assert {r["model_version"] for r in rows} == {"bank-1"}
    # The model learned the bank's frauds: they score above its genuine transactions.
    fraud = dict(zip(foreign.sim.values["transaction_id"], foreign.fraud, strict=True))
    by_class = [[r["model_score"] for r in rows if fraud[r["transaction_id"]] is f]
                for f in (True, False)]  # fmt: skip
    assert all(by_class) and np.mean(by_class[0]) > 3 * np.mean(by_class[1])
