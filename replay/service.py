"""A replay from request to report: plan the range, build the candidate, run, summarize."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from decision_core.reference import ReferenceData
from decision_core.thresholds import ThresholdOverrides, select_thresholds
from replay.candidate import (
    Candidate,
    check_rules,
    load_rule_file,
    model_directory,
    overlay,
    plain_merchants,
)
from replay.database import connect, rules_from_database
from replay.engine import Job
from replay.errors import ReplayError
from replay.plan import PartitionRange, RuleRef, check_output_topic
from replay.report import Change
from replay.runner import run, worker_count
from replay.settings import ReplaySettings
from replay.source import (
    Selection,
    ensure_output_topic,
    load_reference,
    partition_count,
    read_labels,
    resolve,
)
from replay.summary import summarize, warmup_summary
from rule_engine import BreakerConfig, RuleSpec
from schemas.topics import LABELS, TRANSACTIONS


@dataclass(frozen=True)
class ReplayRequest:
    """What an analyst asked for (the command line's options, parsed)."""

    selection: Selection = field(default_factory=Selection)
    topic: str | None = None  # default: the prefixed transactions topic
    rules_file: Path | None = None
    rule_refs: tuple[RuleRef, ...] = ()
    # Candidate rules given as specs by a library caller (the console's backtest of a
    # draft that is in no file and no table yet); overlaid after the file's and the table's.
    rules: tuple[RuleSpec, ...] = ()
    rules_base: str = "live"  # live: the rules topic now; none: only the candidate's rules
    registry: Path | None = None
    model: str | None = None
    # Explicit thresholds; unset ones are the candidate model card's, else 0.5 and 0.9.
    thresholds: ThresholdOverrides = ThresholdOverrides()
    breaker: BreakerConfig | None = BreakerConfig()
    to_topic: str | None = None
    compare_ledger: bool = True


@dataclass
class ReplayOutcome:
    report: dict[str, Any]
    changes: list[Change]


def plan(request: ReplayRequest, settings: ReplaySettings) -> tuple[str, list[PartitionRange]]:
    """The source topic and its ranges (raises before any work for a refused output topic)."""
    prefix = settings.kafka.topic_prefix
    topic = request.topic or f"{prefix}{TRANSACTIONS.name}"
    if request.to_topic is not None:
        check_output_topic(request.to_topic, prefix, topic)
    return topic, resolve(settings.kafka, topic, request.selection)


def candidate(
    request: ReplayRequest, settings: ReplaySettings, reference: ReferenceData
) -> Candidate:
    changes: list[RuleSpec] = []
    if request.rules_file is not None:
        changes += load_rule_file(request.rules_file)
    if request.rule_refs:
        with connect(settings.postgres.dsn.get_secret_value()) as conn:
            changes += rules_from_database(conn, request.rule_refs)
    changes += request.rules
    if request.rules_base not in ("live", "none"):
        raise ReplayError("--rules-base is live or none")
    base = reference.rules.specs.values() if request.rules_base == "live" else ()
    rules, touched = overlay(base, changes)
    check_rules(rules)
    model_dir = model_directory(request.registry, request.model)
    card = json.loads((model_dir / "card.json").read_text()) if model_dir else None
    thresholds, _source = select_thresholds(card, request.thresholds)
    return Candidate(
        rules=tuple(rules),
        lists=tuple(reference.lists.values()),
        profiles=dict(reference.profiles),
        merchants=plain_merchants(reference.merchants),
        model_dir=model_dir,
        thresholds=thresholds,
        breaker=request.breaker,
        changed=tuple(touched),
    )


def replay(
    request: ReplayRequest,
    settings: ReplaySettings,
    progress: Callable[[int], None] = lambda _n: None,
    planned: Callable[[int], None] = lambda _n: None,
) -> ReplayOutcome:
    """Run the replay; ``planned`` is told the records to read once the range is known."""
    topic, parts = plan(request, settings)
    dsn = settings.postgres.dsn.get_secret_value()
    if request.compare_ledger:
        connect(dsn).close()  # an unreachable ledger fails now, not after the reading
    planned(sum(p.records for p in parts))
    reference = load_reference(settings.kafka, settings.reference_timeout_s)
    chosen = candidate(request, settings, reference)
    labels = read_labels(settings.kafka, f"{settings.kafka.topic_prefix}{LABELS.name}")
    if request.to_topic is not None:
        ensure_output_topic(settings.kafka, request.to_topic)
    job = Job(
        kafka=settings.kafka,
        topic=topic,
        parts=tuple(parts),
        candidate=chosen,
        dsn=dsn if request.compare_ledger else None,
        partitions=partition_count(settings.kafka, topic),
        labels=labels,
        to_topic=request.to_topic,
        batch_size=settings.batch_size,
        lookup_batch=settings.lookup_batch,
    )
    workers = worker_count(settings.workers, parts)
    began = time.perf_counter()
    part = run(job, workers, progress)
    elapsed = time.perf_counter() - began
    report = summarize(part, chosen.known_rules(reference.rules.specs.values()), settings.examples)
    report["warmup"] = warmup_summary(part, request.selection.warmup_ms)
    report["run"] = {
        "topic": topic,
        "partitions": [
            {"partition": p.partition, "warm_from": p.warm_from, "start": p.start, "end": p.end}
            for p in parts
        ],
        "workers": workers,
        "elapsed_s": round(elapsed, 3),
        "replayed_per_s": round(part.decided / elapsed, 1) if elapsed > 0 else None,
        "read_per_s": round(part.read / elapsed, 1) if elapsed > 0 else None,
        "to_topic": request.to_topic,
        "ledger_compared": request.compare_ledger,
    }
    report["candidate"] = {
        "rules": len(chosen.rules),
        "rules_base": request.rules_base,
        "changed_rules": list(chosen.changed),
        "model": chosen.model_dir.name if chosen.model_dir else None,
        "review_at": chosen.thresholds.review_at,
        "decline_at": chosen.thresholds.decline_at,
        "breaker": chosen.breaker is not None,
    }
    return ReplayOutcome(report, part.changes)
