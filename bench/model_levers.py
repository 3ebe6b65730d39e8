"""Model quality levers (issue 21): each try scored on the same folds as `sentinel train`.

Run from the repository root, on the published design's data:

    .venv/bin/sentinel simulate generate --reference-only --out data/reference
    .venv/bin/python -m bench.model_levers --data data/reference

The stream features are computed once (by training's own code, cached with ``--cache``);
each lever then changes one thing — the training window, which merchant-risk windows the
model reads, when labels arrive, extra columns — and is judged as training judges: mean
Average Precision on the four validation folds (what would choose), and AUC ROC, AP and
Card Precision@100 on the four test folds, all with the hyperparameters validation chose
for the model before issue 21 (depth 9, eta 0.05, 300 rounds, 80 % rows and columns).
Writes each lever's row into bench/results/model_levers.json, by name. Quality, not speed:
the figures do not depend on the machine's load.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Final

import numpy as np
import numpy.typing as npt
import typer
from rich.console import Console
from rich.table import Table

from bench.common import merge_result
from fraudsim.train.data import TrainingData, load
from fraudsim.train.evaluate import Setup, run_folds, summarise
from fraudsim.train.features import feature_matrix
from fraudsim.train.folds import Protocol, latest_start
from fraudsim.train.merchant_risk import NAMES as MERCHANT_NAMES
from fraudsim.train.merchant_risk import merchant_risk
from fraudsim.train.model import DEFAULT, Params
from schemas.features import FEATURE_NAMES

Matrix = npt.NDArray[np.float32]
RESULTS = Path("bench/results/model_levers.json")
console = Console()


WEEK_BEFORE: Final = slice(0, 6)  # merchant_{tx,risk}_{w}d: the windows a week before
RECENT: Final = slice(6, 12)  # merchant_recent_*: the windows ending at the hour


@dataclasses.dataclass(frozen=True, slots=True)
class Lever:
    name: str
    train_days: int = 7
    # Which of the merchant-risk columns (MERCHANT_FEATURE_NAMES) the model reads.
    merchant: tuple[slice, ...] = (WEEK_BEFORE, RECENT)
    # Extra columns beside the stream features and merchant risk.
    columns: Callable[[TrainingData], tuple[list[str], Matrix]] | None = None
    # Every label arriving exactly this many days after its transaction instead of when
    # the simulator says (0.5-7 days): what the gain owes to labels arriving early.
    label_delay_days: float | None = None
    params: Params = DEFAULT


def merchant_amounts(data: TrainingData) -> tuple[list[str], Matrix]:
    """The terminal's recent amounts (all accounts) over the previous 1 and 7 days: count,
    mean, and the transaction's amount against that mean (z-score)."""
    cents = np.asarray(data.columns.cents, dtype=np.float64)
    order = np.lexsort((data.ts_ms, data.merchant))
    names: list[str] = []
    columns: list[npt.NDArray[np.float64]] = []
    for days in (1, 7):
        mean, std, n = _trailing(data.merchant[order], data.ts_ms[order], cents[order], days)
        z = np.divide(cents[order] - mean, std, out=np.zeros(len(order)), where=std > 0)
        for name, values in (("n", n), ("mean", mean), ("z", z)):
            out = np.empty(len(order))
            out[order] = values
            names.append(f"merchant_amount_{name}_{days}d")
            columns.append(out)
    return names, np.column_stack(columns).astype(np.float32)


Floats = npt.NDArray[np.float64]


def _trailing(
    merchant: npt.NDArray[np.int64], ts: npt.NDArray[np.int64], x: Floats, days: int
) -> tuple[Floats, Floats, Floats]:
    """Mean, standard deviation and count of ``x`` over each row's merchant's previous
    ``days`` (rows sorted by merchant, then time; the row itself left out)."""
    key = merchant.astype(np.float64) * 1e13 + ts
    lower = np.searchsorted(key, key - days * 86_400_000, side="left")
    upper = np.searchsorted(key, key, side="left")
    s1 = np.concatenate([[0.0], np.cumsum(x)])
    s2 = np.concatenate([[0.0], np.cumsum(x * x)])
    n = (upper - lower).astype(np.float64)
    mean = np.divide(s1[upper] - s1[lower], n, out=np.zeros(len(x)), where=n > 0)
    var = np.divide(s2[upper] - s2[lower], n, out=np.zeros(len(x)), where=n > 0) - mean**2
    return mean, np.sqrt(np.maximum(var, 0.0)), n


LEVERS: tuple[Lever, ...] = (
    Lever("before: merchant risk a week before only", merchant=(WEEK_BEFORE,)),
    Lever("shipped: + recent merchant risk (labels as they arrive)"),
    Lever("recent merchant risk only", merchant=(RECENT,)),
    Lever("shipped, every label exactly 7 days late", label_delay_days=7.0),
    Lever("shipped, 14 training days", train_days=14),
    Lever("shipped, 21 training days", train_days=21),
    Lever("shipped + terminal's recent amounts (1 and 7 days)", columns=merchant_amounts),
    Lever("before, 14 training days", merchant=(WEEK_BEFORE,), train_days=14),
)


def evaluate(lever: Lever, data: TrainingData, stream: Matrix) -> dict[str, Any]:
    if lever.label_delay_days is not None:
        late = data.ts_ms + int(lever.label_delay_days * 86_400_000)
        data = dataclasses.replace(data, labelled_at_ms=np.where(data.fraud, late, 0))
    merchant = merchant_risk(data)
    blocks, names = [stream], list(FEATURE_NAMES)
    for part in lever.merchant:
        blocks.append(merchant[:, part])
        names += MERCHANT_NAMES[part]
    if lever.columns is not None:
        extra_names, extra = lever.columns(data)
        blocks.append(extra)
        names += extra_names
    protocol = Protocol(train_days=lever.train_days)
    setup = Setup(data, np.hstack(blocks), names, protocol, 2)
    # The published test weeks whatever the training window: a longer window reaches back.
    published = Protocol()
    latest = latest_start(data.days, published) - (lever.train_days - published.train_days)
    validation = run_folds(setup, latest - protocol.folds * protocol.shift_days, lever.params)
    test = run_folds(setup, latest, lever.params)
    summary = summarise(test)
    return {
        "lever": lever.name,
        "features": len(names),
        "validation_ap": float(np.mean([f.ap for f in validation])),
        "test_first_days": [f.start + lever.train_days + protocol.delay_days for f in test],
        **{k: summary[k] for k in ("auc_roc", "average_precision", "card_precision_at_100")},
    }


def main(
    data: Annotated[Path, typer.Option(help="A `simulate generate --reference-only` folder.")],
    cache: Annotated[Path | None, typer.Option(help="Stream features cached here (.npy).")] = None,
    only: Annotated[list[int] | None, typer.Option(help="Indices of LEVERS to run.")] = None,
) -> None:
    loaded = load(data)
    if cache is not None and cache.exists():
        features = np.load(cache)
    else:
        features = feature_matrix(loaded.columns, loaded.account, 2)
        if not features.accepted.all():
            raise SystemExit("the reference data holds rows the live path refuses")
        features = features.matrix
        if cache is not None:
            np.save(cache, features)
    rows = []
    for i, lever in enumerate(LEVERS):
        if only and i not in only:
            continue
        rows.append(evaluate(lever, loaded, features))
        console.print(json.dumps(rows[-1]))
        # Each lever as soon as it is measured, keyed by its name: runs of some levers
        # (``--only``) update their rows and keep the others'.
        merge_result(RESULTS, lever.name, {"data": str(data), **rows[-1]})
    table = Table("lever", "validation AP", "test AUC", "test AP", "test CP@100")
    for r in rows:
        cells = [f"{r[k]['mean']:.3f} ± {r[k]['std']:.3f}" for k in
                 ("auc_roc", "average_precision", "card_precision_at_100")]  # fmt: skip
        table.add_row(r["lever"], f"{r['validation_ap']:.3f}", *cells)
    console.print(table)


if __name__ == "__main__":
    typer.run(main)
