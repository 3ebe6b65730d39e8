"""The report as JSON-ready data, from a merged ``ReportPart`` (definitions: ``report``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from replay.report import BINS, MISSING, OUTCOMES, QUANTILES, Change, ReportPart


def summarize(
    part: ReportPart, rule_names: Mapping[str, str] | None = None, examples: int = 5
) -> dict[str, Any]:
    """The report as JSON-ready data (the changes themselves go to ``changes.csv``)."""
    part.changes.sort(key=lambda c: (c.partition, c.offset))
    missing = sum(n for (before, _), n in part.transitions.items() if before == MISSING)
    return {
        "totals": {
            "read": part.read,
            "warmed": part.warmed,
            "replayed": part.decided,
            "invalid": part.invalid,
            "duplicates": part.duplicates,
            "in_ledger": sum(part.transitions.values()) - missing,
            "missing_from_ledger": missing,
            "changed": len(part.changes),
        },
        "outcomes": _outcomes(part.transitions),
        "transitions": [
            {"live": before, "replay": now, "count": n}
            for (before, now), n in sorted(part.transitions.items())
        ],
        "labels": {
            name: part.labels.get(name, 0)
            for name in (
                "labelled",
                "fraud",
                "confirmed_good",
                "fraud_caught_live",
                "fraud_caught_replay",
                "fraud_newly_caught",
                "fraud_newly_missed",
                "good_newly_declined",
                "confirmed_good_newly_declined",
            )
        },
        "rules": _rules(part, rule_names or {}),
        "scores": _scores(part),
        "live_model_versions": dict(part.live_models),
        "examples": _examples(part.changes, examples),
    }


def _outcomes(transitions: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
    live: Counter[str] = Counter()
    replay: Counter[str] = Counter()
    for (before, now), n in transitions.items():
        live[before] += n
        replay[now] += n
    return {
        "live": {name: live.get(name, 0) for name in (*OUTCOMES, MISSING)},
        "replay": {name: replay.get(name, 0) for name in OUTCOMES},
    }


def _rules(part: ReportPart, names: Mapping[str, str]) -> list[dict[str, Any]]:
    has_labels = part.labels.get("fraud", 0) > 0
    out = []
    for (rule_id, mode), s in sorted(part.rules.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        out.append(
            {
                "rule_id": rule_id,
                "name": names.get(rule_id, ""),
                "mode": mode,
                "live_hits": s.live_hits,
                "replay_hits": s.replay_hits,
                "live_fraud_hits": s.live_fraud_hits,
                "replay_fraud_hits": s.replay_fraud_hits,
                "live_precision": _ratio(s.live_fraud_hits, s.live_hits) if has_labels else None,
                "replay_precision": (
                    _ratio(s.replay_fraud_hits, s.replay_hits) if has_labels else None
                ),
            }
        )
    return out


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _scores(part: ReportPart) -> dict[str, Any]:
    live_n, replay_n = sum(part.live_scores), sum(part.replay_scores)
    coarse = BINS // 10
    return {
        "live": _distribution(part.live_scores, part.score_sums[0], live_n),
        "replay": _distribution(part.replay_scores, part.score_sums[1], replay_n),
        "histogram": [
            {
                "from": i / 10,
                "to": (i + 1) / 10,
                "live": sum(part.live_scores[i * coarse : (i + 1) * coarse]),
                "replay": sum(part.replay_scores[i * coarse : (i + 1) * coarse]),
            }
            for i in range(10)
        ],
    }


def _distribution(bins: list[int], total: float, count: int) -> dict[str, Any]:
    return {
        "count": count,
        "mean": total / count if count else None,
        "quantiles": {f"p{round(q * 100):02d}": quantile(bins, q) for q in QUANTILES},
    }


def quantile(bins: list[int], q: float) -> float | None:
    """The ``q`` quantile, floored to its bin (a thousandth); None without data."""
    count = sum(bins)
    if not count:
        return None
    rank, seen = q * count, 0
    for i, n in enumerate(bins):
        seen += n
        if seen >= rank and n:
            return i / len(bins)
    return 1.0


def _examples(changes: list[Change], per_kind: int) -> list[dict[str, Any]]:
    taken: Counter[tuple[str, str]] = Counter()
    out = []
    for change in changes:
        kind = (change.live_outcome, change.replay_outcome)
        if taken[kind] < per_kind:
            taken[kind] += 1
            out.append(change.row())
    return out
