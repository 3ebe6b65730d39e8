"""The report as JSON-ready data, from a merged ``ReportPart`` (definitions: ``report``).

Rules are shown to people by name and version ("Card testing v3"), from the specs the
replay knows (the candidate's and the live rules topic's); an unknown rule by its id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from decision_core.placement import FORWARDED, KEY_MISSING, KEY_NOT_ACCOUNT, STILL_MISPLACED
from replay.plan import DEFAULT_WARMUP_MS, LONGEST_WINDOW_MS, format_duration, is_short_warmup
from replay.report import BINS, MISSING, OUTCOMES, QUANTILES, Change, ReportPart
from rule_engine import RuleSpec

# The report's placement counts, by the agents' reason (their metric's and dead letters').
PLACEMENT = (FORWARDED, KEY_MISSING, KEY_NOT_ACCOUNT, STILL_MISPLACED)


def rule_label(rule_id: str, rules: Mapping[str, RuleSpec]) -> str:
    """``name vN`` of a known rule, else its id."""
    spec = rules.get(rule_id)
    return rule_id if spec is None else f"{spec.name or rule_id} v{spec.version}"


def rule_labels(rule_ids: Iterable[str], labels: Mapping[str, str]) -> str:
    """Several rules for a table cell or a CSV field: labels joined by "; " (names hold
    spaces)."""
    return "; ".join(labels.get(rule_id, rule_id) for rule_id in rule_ids)


def summarize(
    part: ReportPart, rules: Mapping[str, RuleSpec] | None = None, examples: int = 5
) -> dict[str, Any]:
    """The report as JSON-ready data (the changes themselves go to ``changes.csv``);
    ``rules``: the specs to name rules by, by id."""
    part.changes.sort(key=lambda c: (c.partition, c.offset))
    missing = sum(n for (before, _), n in part.transitions.items() if before == MISSING)
    return {
        "totals": {
            "read": part.read,
            "warmed": part.warmed,
            "replayed": part.decided,
            "invalid": part.invalid,
            "duplicates": part.duplicates,
            # Of what was read, placed as the agents place it (decision_core.placement):
            # originals they forwarded home (their copies are replayed), and records they
            # dead-lettered for their key or partition (also in "invalid").
            "forwarded_skipped": part.placement[FORWARDED],
            "misplaced_rejected": sum(n for r, n in part.placement.items() if r != FORWARDED),
            "in_ledger": sum(part.transitions.values()) - missing,
            "missing_from_ledger": missing,
            "changed": len(part.changes),
        },
        "placement": {r: part.placement[r] for r in PLACEMENT},
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
        "rules": _rules(part, rules or {}),
        "scores": _scores(part),
        "live_model_versions": dict(part.live_models),
        "examples": _examples(part.changes, examples, rules or {}),
    }


def warmup_summary(part: ReportPart, warmup_ms: int | None) -> dict[str, Any]:
    """The warm-up against the longest feature window, and a warning when it is shorter:
    changed outcomes may then come from cold features rather than from the candidate."""
    cold_changes = sum(1 for change in part.changes if change.cold)
    short = is_short_warmup(warmup_ms)
    return {
        "warmup_ms": warmup_ms,
        "longest_window_ms": LONGEST_WINDOW_MS,
        "short": short,
        "cold_replayed": part.cold,
        "cold_changes": cold_changes,
        "warning": _warmup_warning(part, warmup_ms, cold_changes) if short else None,
    }


def _warmup_warning(part: ReportPart, warmup_ms: int | None, cold_changes: int) -> str:
    window = format_duration(LONGEST_WINDOW_MS)
    said = (
        f"--warmup {format_duration(warmup_ms)} is shorter than the longest feature window"
        f" ({window})"
    )
    if not part.cold:
        return (
            f"{said}, but no transaction was decided with less than {window} of its"
            " account's history read (each partition was read from its first record, or from"
            f" more than {window} before the transaction)."
        )
    return (
        f"{said}: {cold_changes:,} of {len(part.changes):,} changed outcomes"
        f" ({part.cold:,} of {part.decided:,} replayed transactions) were decided with less"
        f" than {window} of their account's history read, so those changes may come from"
        f" cold features rather than from the candidate. Warm up with --warmup"
        f" {format_duration(DEFAULT_WARMUP_MS)} (the default) or --warmup all."
    )


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


def _rules(part: ReportPart, rules: Mapping[str, RuleSpec]) -> list[dict[str, Any]]:
    has_labels = part.labels.get("fraud", 0) > 0
    out = []
    for (rule_id, mode), s in sorted(part.rules.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        spec = rules.get(rule_id)
        out.append(
            {
                "rule_id": rule_id,
                "name": spec.name if spec else "",
                "version": spec.version if spec else None,
                "label": rule_label(rule_id, rules),
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


def _examples(
    changes: list[Change], per_kind: int, rules: Mapping[str, RuleSpec]
) -> list[dict[str, Any]]:
    taken: Counter[tuple[str, str]] = Counter()
    labels = {rule_id: rule_label(rule_id, rules) for rule_id in rules}
    out = []
    for change in changes:
        kind = (change.live_outcome, change.replay_outcome)
        if taken[kind] < per_kind:
            taken[kind] += 1
            out.append(
                {
                    **change.row(),
                    "rules_added_names": rule_labels(change.rules_added, labels),
                    "rules_removed_names": rule_labels(change.rules_removed, labels),
                }
            )
    return out
