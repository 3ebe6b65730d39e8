"""One scoring run: load, warm up, score in batches, write the rows and a JSON summary.

Each scored row is decided as the agents decide it: the model's score (``Model``), then the
agents' judge (``RulesJudge``: a rules file's rules, if given, and the policy under the
thresholds the agent would take, ``select_thresholds``); reason codes as the agent gives
them (exact TreeSHAP where the model is why a payment stops, ``exact_reasons``). Offline
there is no rules topic: without ``--rules`` the model decides alone, as with an empty rule
set.
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

from decision_core.judge import RulesJudge
from decision_core.records import Judgement
from decision_core.reference import ReferenceData
from decision_core.scoring import Model, exact_reasons
from decision_core.thresholds import NO_OVERRIDES, ThresholdOverrides, select_thresholds
from fraudsim.registry import RegistryError, check, current_version
from fraudsim.score.data import Range, ScoreError, load
from fraudsim.score.features import Inputs, model_inputs
from fraudsim.score.output import (
    REJECTED,
    SCHEMA,
    check_out,
    open_writer,
    reason_columns,
    summary_path,
)
from fraudsim.train.data import TrainingData
from replay.candidate import check_rules, load_rule_file
from replay.errors import ReplayError
from rule_engine import NO_BREAKER, DeclineBreaker, RuleSet, RuleSpec, Thresholds
from schemas.records import ReasonCode, RuleHit
from schemas.validation import transaction_problem

RULE_SEPARATOR = ";"
RULES_NOTE = "model only: no rules file given (offline there is no rules topic)"
RULES_APPLIED = "the file's rules with the agents' judge; no decline breaker, no named lists"


@dataclass(frozen=True, slots=True)
class Options:
    data: Path
    registry: Path
    out: Path
    model: str | None = None  # None: the registry's CURRENT
    scored: Range = Range()
    thresholds: ThresholdOverrides = NO_OVERRIDES
    rules: Path | None = None  # a rules file (`sentinel rules load`'s format); None: model only
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
    check_out(opts.out)
    model = load_model(opts.registry, opts.model)
    # The agents score small batches on one thread (``Model.load``); a file's batches are
    # big enough for XGBoost's threads (the values do not depend on them).
    model.booster.set_param({"nthread": opts.workers})
    thresholds, source = select_thresholds(model.card, opts.thresholds)
    judge = judge_for(opts.rules, thresholds)
    data = load(opts.data, opts.scored)
    stage = lambda d, t: progress("features", d, t)  # noqa: E731
    inputs = model_inputs(data, model, opts.scored, opts.workers, stage, opts.rules is not None)
    features_s = time.perf_counter() - began
    tally = Tally()
    writer = open_writer(opts.out)
    try:
        for done, batch in _batches(data, inputs, model, judge, opts.batch_rows, tally):
            writer.write_batch(batch)
            progress("scoring", done, len(inputs.rows))
    finally:
        writer.close()
    seconds = time.perf_counter() - began
    summary = _summary(opts, model, (thresholds, source), judge, (data, inputs), tally)
    summary["seconds"] = {"total": round(seconds, 2), "load_and_features": round(features_s, 2)}
    # Every row read costs a pass through its account's state, history included.
    summary["rows_read"] = len(data)
    summary["rows_read_per_second"] = round(len(data) / seconds) if seconds else None
    summary["rows_scored_per_second"] = round(tally.rows / seconds) if seconds else None
    summary_path(opts.out).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _batches(
    data: TrainingData, inputs: Inputs, model: Model, judge: RulesJudge, size: int, tally: Tally
) -> Iterator[tuple[int, Any]]:
    names, record = inputs.names, data.columns.record
    for start in range(0, len(inputs.rows), size):
        part = slice(start, start + size)
        rows, accepted = inputs.rows[part], inputs.accepted[part]
        assessment = model.assess_matrix(inputs.model_matrix(part))
        kept = rows[accepted].tolist()
        homes = [h for h, ok in zip(inputs.homes[part], accepted.tolist(), strict=True) if ok]
        values = inputs.features[part][accepted].tolist()
        judgements = [
            judge(record(i), dict(zip(names, row, strict=True)), score, home)
            for i, row, score, home in zip(kept, values, assessment.scores, homes, strict=True)
        ]
        reasons = assessment.reasons(exact_reasons(judgements))
        out = _columns(data, rows, accepted, iter(judgements), iter(reasons))
        out["model_score"] = _spread(assessment.scores, accepted)
        tally.rows += len(rows)
        tally.rejected += int((~accepted).sum())
        tally.outcomes.update(out["outcome"])
        yield start + len(rows), _record_batch(data, rows, model.version, out)


def _columns(
    data: TrainingData,
    rows: Any,
    accepted: Any,
    judgements: Iterator[Judgement],
    reasons: Iterator[tuple[ReasonCode, ...]],
) -> dict[str, list[Any]]:
    """A batch's computed columns, in row order: a decision, or REJECTED and why."""
    names = ("score", "outcome", "rules_fired", "shadow_rules_fired", "rejected_reason")
    out: dict[str, list[Any]] = {name: [] for name in names}
    why: list[tuple[ReasonCode, ...] | None] = []
    found: tuple[Any, ...]
    for i, ok in zip(rows.tolist(), accepted.tolist(), strict=True):
        if ok:
            j = next(judgements)
            found = (j.risk_score, j.outcome.value, _ids(j.rules_fired),
                     _ids(j.shadow_rules_fired), None)  # fmt: skip
            why.append(next(reasons))
        else:
            found = (None, REJECTED, None, None, transaction_problem(data.columns.record(i), None))
            why.append(None)
        for name, value in zip(names, found, strict=True):
            out[name].append(value)
    return {**out, **reason_columns(why)}


def _spread(values: list[float], accepted: Any) -> list[float | None]:
    """Values of the accepted rows, None in the rejected rows' places."""
    found = iter(values)
    return [next(found) if ok else None for ok in accepted.tolist()]


def _ids(hits: tuple[RuleHit, ...]) -> str:
    return RULE_SEPARATOR.join(hit.rule_id for hit in hits)


def judge_for(rules: Path | None, thresholds: Thresholds) -> RulesJudge:
    """The agents' judge over the rules of ``rules`` (none: the model alone decides, as with
    an empty rules topic). No decline breaker: it caps a rule's declines per second of wall
    clock, which an offline run compresses (replay's "no breaker")."""
    specs = [] if rules is None else _rule_file(rules)
    reference = ReferenceData(RuleSet.build(specs))
    return RulesJudge(reference, thresholds, DeclineBreaker(NO_BREAKER))


def _rule_file(path: Path) -> list[RuleSpec]:
    """The rules of a ``sentinel rules load`` file, every one compiling (replay's reader)."""
    try:
        specs = load_rule_file(path)
        check_rules(specs)
    except ReplayError as exc:
        raise ScoreError(str(exc)) from exc
    return specs


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


def _rules_note(path: Path | None, judge: RulesJudge) -> dict[str, Any]:
    rules = judge.reference.rules
    active = [spec.rule_id for spec in rules.specs.values()]
    # A rule that cannot be evaluated (as one reading a named list, empty offline) is not
    # fired; how often, per rule, as the agents count it.
    failures = {rule: n for rule in active if (n := judge.failures.total(rule))}
    return {"file": str(path) if path else None, "rules": active, "failures": failures,
            "note": RULES_NOTE if path is None else RULES_APPLIED}  # fmt: skip


def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def _summary(
    opts: Options,
    model: Model,
    chosen: tuple[Thresholds, str],
    judge: RulesJudge,
    read: tuple[TrainingData, Inputs],
    tally: Tally,
) -> dict[str, Any]:
    thresholds, source = chosen
    data, inputs = read
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
        "rules": _rules_note(opts.rules, judge),
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
