"""One training run: features, validation, final model, thresholds, plots, registry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb
from rich.progress import Progress

from fraudsim.registry import ensure_new, live_ready, save
from fraudsim.train import card, merchant_risk
from fraudsim.train.data import TrainingData, load
from fraudsim.train.evaluate import FoldResult, Setup, choose, run_folds, summarise
from fraudsim.train.features import feature_matrix
from fraudsim.train.folds import Protocol, latest_start
from fraudsim.train.metrics import auc_roc, average_precision
from fraudsim.train.model import DEFAULT, GRID, Params, fit, importance, predict
from fraudsim.train.plots import importance_bars, pr_curves
from fraudsim.train.thresholds import Thresholds, choose_thresholds
from schemas.features import FEATURE_NAMES


@dataclass(frozen=True, slots=True)
class Options:
    data: Path
    registry: Path
    version: str = field(default_factory=lambda: datetime.now(UTC).strftime("xgb-%Y%m%d-%H%M%S"))
    workers: int = 2
    protocol: Protocol = Protocol()
    search: bool = True
    # Hyper-parameters to train with as given, without the validation search (None: the
    # search chooses them, or ``DEFAULT`` when ``search`` is off).
    params: Params | None = None
    merchant_risk: bool = True
    promote: bool = True
    review_rate: float = 0.01
    decline_precision: float = 0.9
    published_start: int = 115


@dataclass(frozen=True, slots=True)
class Result:
    directory: Path
    card: dict[str, Any]
    test_folds: list[FoldResult]
    promoted: bool


class Stopwatch:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._began = time.perf_counter()

    @contextmanager
    def lap(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        yield
        self.laps[name] = round(time.perf_counter() - began, 2)

    def total(self) -> float:
        return round(time.perf_counter() - self._began, 2)


def _features(opts: Options, data: TrainingData, progress: Progress) -> Setup:
    task = progress.add_task("features (stream code)", total=None)

    def advance(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    features = feature_matrix(data.columns, data.account, opts.workers, advance)
    matrix = features.matrix
    if not features.accepted.all():
        # What the live path refuses is in no account's state there: not in training either.
        data = data.accepted_only(features.accepted)
        matrix = matrix[features.accepted]
    names: tuple[str, ...] = FEATURE_NAMES
    if opts.merchant_risk:
        matrix = np.hstack([matrix, merchant_risk.merchant_risk(data)])
        names = (*names, *merchant_risk.NAMES)
    return Setup(data, matrix, names, opts.protocol, max(1, opts.workers), opts.review_rate)


def _validate(opts: Options, setup: Setup, progress: Progress) -> tuple[Params, dict[str, float]]:
    if opts.params is not None:
        return opts.params, {}
    protocol = opts.protocol
    latest = latest_start(setup.data.days, protocol, opts.published_start)
    validation_latest = latest - protocol.folds * protocol.shift_days
    if not opts.search or validation_latest - (protocol.folds - 1) * protocol.shift_days < 0:
        return DEFAULT, {}
    task = progress.add_task("validation grid", total=len(GRID) * protocol.folds)
    return choose(setup, validation_latest, GRID, lambda: progress.advance(task))


def _test(opts: Options, setup: Setup, params: Params, progress: Progress) -> list[FoldResult]:
    latest = latest_start(setup.data.days, opts.protocol, opts.published_start)
    task = progress.add_task("test folds", total=opts.protocol.folds)
    return run_folds(setup, latest, params, lambda: progress.advance(task))


def _final(opts: Options, setup: Setup, params: Params) -> Artifact:
    """Thresholds by one more prequential run on the newest week, then the artifact refit on
    the newest window the label delay allows.

    The threshold run trains as a fold would on the window a week's delay before the newest
    week and chooses thresholds on that week (all of it: thresholds are about the whole
    traffic). The artifact then trains on the newest ``train_days`` whose labels the delay
    lets in, ending ``delay_days`` before the data does, with every label that had arrived
    by the data's end: two weeks newer than the threshold run's, which is what a bank would
    deploy. The thresholds carry over as scores (same parameters, same traffic: the two
    models' scores are alike, not identical; the card keeps both windows).
    """
    p, data = opts.protocol, setup.data
    hold_from = data.days - p.test_days
    window = (hold_from - p.delay_days - p.train_days, hold_from - p.delay_days)
    booster = _fit_window(setup, window, params, data.day_start_ms(hold_from))
    hold = np.flatnonzero(data.day >= hold_from)
    score = predict(booster, setup.matrix[hold], setup.names)
    fraud = data.fraud[hold]
    chosen = choose_thresholds(fraud, score, opts.review_rate, opts.decline_precision)
    holdout = {"days": [hold_from, data.days], "trained_on_days": list(window),
               "rows": len(hold), "frauds": int(fraud.sum()), "auc_roc": auc_roc(fraud, score),
               "average_precision": average_precision(fraud, score)}  # fmt: skip
    newest = (data.days - p.delay_days - p.train_days, data.days - p.delay_days)
    artifact = _fit_window(setup, newest, params, data.day_start_ms(data.days))
    return Artifact(artifact, newest, holdout, chosen)


@dataclass(frozen=True, slots=True)
class Artifact:
    booster: xgb.Booster
    window: tuple[int, int]  # the days the artifact trained on
    holdout: dict[str, Any]
    thresholds: Thresholds


def _fit_window(
    setup: Setup, window: tuple[int, int], params: Params, labels_at_ms: int
) -> xgb.Booster:
    """A model of the rows of days [window), with the labels known at ``labels_at_ms``."""
    data = setup.data
    rows = np.flatnonzero((data.day >= window[0]) & (data.day < window[1]))
    fraud = data.known_fraud(labels_at_ms)[rows]
    return fit(setup.matrix[rows], fraud, setup.names, params, setup.threads)


def train(opts: Options, progress: Progress) -> Result:
    ensure_new(opts.registry, opts.version)  # before the work, not only when saving it
    watch = Stopwatch()
    with watch.lap("load"):
        data = load(opts.data)
    with watch.lap("features"):
        setup = _features(opts, data, progress)
    with watch.lap("validation"):
        params, selection = _validate(opts, setup, progress)
    with watch.lap("test_folds"):
        folds = _test(opts, setup, params, progress)
    with watch.lap("final_model"):
        final = _final(opts, setup, params)
    extra = {"merchant_risk": merchant_risk.__doc__} if opts.merchant_risk else {}
    timings = {**watch.laps, "total": watch.total()}
    source = card.data_section(setup.data, str(opts.data), opts.protocol.delay_days)
    inputs = card.CardInputs(
        setup.names, source, opts.protocol, params, selection,
        folds, summarise(folds), final.window, final.holdout, final.thresholds, extra, timings,
        opts.review_rate,
        opts.decline_precision,
    )  # fmt: skip
    booster = final.booster
    model_card = {**card.model_card(inputs, booster), "version": opts.version}
    # A model reading a feature the agents do not compute is staged, never made current.
    promoted = opts.promote and live_ready(model_card)
    directory = save(opts.registry, booster, opts.version, model_card, promoted)
    first_day = model_card["data"]["first_day"]
    pr_curves(folds, directory / "pr_curve.png", first_day)
    importance_bars(importance(booster), directory / "feature_importance.png")
    return Result(directory, model_card, folds, promoted)
