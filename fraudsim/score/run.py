"""One scoring run: load, warm up, score in batches, write the rows and a JSON summary.

Model only: offline there is no rules topic, and the analysts' rules are not applied (see
docs/scoring.md). The outcome is the decision core's policy (``rule_engine.decide``) with
no rule verdict, under the thresholds the agent would take (``select_thresholds``: the
card's unless overridden); reason codes as the agent gives them (exact TreeSHAP where the
outcome stops a payment, ``exact_reasons``).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from decision_core.scoring import Model, exact_reasons
from decision_core.thresholds import NO_OVERRIDES, ThresholdOverrides, select_thresholds
from fraudsim.registry import RegistryError, check, current_version
from fraudsim.score.data import Range, ScoreError, load
from fraudsim.score.features import Inputs, model_inputs
from fraudsim.score.output import REJECTED, SCHEMA, open_writer, reason_columns, summary_path
from fraudsim.train.data import TrainingData
from rule_engine import RuleVerdict, Thresholds, decide
from schemas.validation import transaction_problem

NO_RULES = RuleVerdict()
RULES_NOTE = "none: model only (no rules topic offline; see docs/scoring.md)"


@dataclass(frozen=True, slots=True)
class Options:
    data: Path
    registry: Path
    out: Path
    model: str | None = None  # None: the registry's CURRENT
    scored: Range = Range()
    thresholds: ThresholdOverrides = NO_OVERRIDES
    workers: int = 2
    batch_rows: int = 20_000


@dataclass(slots=True)
class Tally:
    rows: int = 0
    rejected: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


Progress = Callable[[str, int, int], None]  # (stage, done, total)


def load_model(registry: Path, version: str | None) -> Model:
    """``version`` of ``registry`` (default its CURRENT), loaded and checked."""
    version = version or current_version(registry)
    if version is None:
        raise ScoreError(f"{registry} has no CURRENT model: name one with --model")
    try:
        return check(registry, version, force=True)  # offline: not only live-ready models
    except RegistryError as exc:
        raise ScoreError(str(exc)) from exc


def score(opts: Options, progress: Progress = lambda _s, _d, _t: None) -> dict[str, Any]:
    """Score ``opts.data`` into ``opts.out``; returns the summary (also written beside it)."""
    began = time.perf_counter()
    model = load_model(opts.registry, opts.model)
    thresholds, source = select_thresholds(model.card, opts.thresholds)
    data = load(opts.data, opts.scored)
    inputs = model_inputs(
        data, model, opts.scored, opts.workers, lambda d, t: progress("features", d, t)
    )
    features_s = time.perf_counter() - began
    tally = Tally()
    writer = open_writer(opts.out)
    try:
        for done, batch in _batches(data, inputs, model, thresholds, opts.batch_rows, tally):
            writer.write_batch(batch)
            progress("scoring", done, len(inputs.rows))
    finally:
        writer.close()
    seconds = time.perf_counter() - began
    summary = _summary(opts, model, (thresholds, source), data, inputs, tally)
    summary["seconds"] = {"total": round(seconds, 2), "features": round(features_s, 2)}
    # Every row read costs a pass through its account's state, history included.
    summary["rows_read"] = len(data)
    summary["rows_read_per_second"] = round(len(data) / seconds) if seconds else None
    summary_path(opts.out).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _batches(
    data: TrainingData,
    inputs: Inputs,
    model: Model,
    thresholds: Thresholds,
    size: int,
    tally: Tally,
) -> Iterator[tuple[int, Any]]:
    for start in range(0, len(inputs.rows), size):
        part = slice(start, start + size)
        rows, accepted = inputs.rows[part], inputs.accepted[part]
        assessment = model.assess_matrix(inputs.matrix[part][accepted])
        decisions = [decide(s, NO_RULES, thresholds) for s in assessment.scores]
        outcomes = [d.outcome for d in decisions]
        reasons = iter(assessment.reasons(exact_reasons(outcomes)))
        scores, named = iter(d.score for d in decisions), iter(o.value for o in outcomes)
        out: dict[str, list[Any]] = {"score": [], "outcome": [], "rejected_reason": []}
        why: list[Any] = []
        for i, ok in zip(rows.tolist(), accepted.tolist(), strict=True):
            problem = None if ok else transaction_problem(data.columns.record(i), None)
            out["score"].append(next(scores) if ok else None)
            out["outcome"].append(next(named) if ok else REJECTED)
            out["rejected_reason"].append(problem)
            why.append(next(reasons) if ok else None)
        tally.rows += len(rows)
        tally.rejected += int((~accepted).sum())
        tally.outcomes.update(out["outcome"])
        yield (
            start + len(rows),
            _record_batch(data, rows, model.version, {**out, **reason_columns(why)}),
        )


def _record_batch(data: TrainingData, rows: Any, version: str, computed: dict[str, Any]) -> Any:
    values = data.columns.values
    take = rows.tolist()
    columns = {
        "transaction_id": [values["transaction_id"][i] for i in take],
        "account_id": [values["account_id"][i] for i in take],
        "timestamp": pa.array(data.ts_ms[rows], pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
        **computed,
        "model_version": [version] * len(take),
    }
    return pa.RecordBatch.from_pydict(columns, schema=SCHEMA)


def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def _summary(
    opts: Options,
    model: Model,
    chosen: tuple[Thresholds, str],
    data: TrainingData,
    inputs: Inputs,
    tally: Tally,
) -> dict[str, Any]:
    thresholds, source = chosen
    history_ms = data.ts_ms[opts.scored.history(data.ts_ms)]
    return {
        "data": str(opts.data),
        "output": str(opts.out),
        "model_version": model.version,
        "thresholds": {
            "review_at": thresholds.review_at,
            "decline_at": thresholds.decline_at,
            "source": source,
        },
        "rules": RULES_NOTE,
        "warm_up": {
            "rows": inputs.history_rows,
            "refused": inputs.history_refused,
            "first": _iso(int(history_ms.min())) if len(history_ms) else None,
            "until": _iso(opts.scored.start_ms),
        },
        "scored_range": {"from": _iso(opts.scored.start_ms), "to": _iso(opts.scored.end_ms)},
        "rows_scored": tally.rows - tally.rejected,
        "rejected": tally.rejected,
        "outcomes": dict(sorted(tally.outcomes.items())),
    }
