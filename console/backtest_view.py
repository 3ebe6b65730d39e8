"""The backtest pages' pure parts: the range an analyst may ask for, the candidate spec,
the result's summary (candidate against live) and the chart's bars.

No I/O: ``console/backtests.py`` stores and runs backtests; everything here is unit-tested
alone. Definitions are replay's (``replay/report.py``): *caught* is any outcome other than
APPROVE, *fraud* a transaction labelled fraud on the ``labels`` topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rule_engine import RuleSpec
from schemas.enums import Outcome, RuleMode

# A backtest still running this long after its deadline has lost its worker (a console
# restarted meanwhile): the page says so instead of waiting for ever.
GRACE = timedelta(seconds=30)
OPEN = ("queued", "running")


class BadRange(ValueError):
    """A range a backtest refuses: the message says why."""


@dataclass(frozen=True, slots=True)
class Range:
    since: datetime
    until: datetime


def parse_moment(text: str, name: str) -> datetime:
    """A form's ``datetime-local`` value (or any ISO 8601); without a zone it is UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise BadRange(f"{name}: write a date and time, e.g. 2026-12-01T09:00") from exc
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def parse_range(since: str, until: str, now: datetime, max_days: float) -> Range:
    """``[since, until)`` if it is in the past, not empty and at most ``max_days`` long."""
    start, end = parse_moment(since, "from"), parse_moment(until, "to")
    if start >= end:
        raise BadRange("from must be before to")
    if start >= now:
        raise BadRange("the range starts in the future: nothing to replay")
    if end - start > timedelta(days=max_days):
        raise BadRange(f"a backtest covers at most {max_days:g} days; narrow the range")
    return Range(start, min(end, now))


def default_range(now: datetime) -> Range:
    """What the forms offer: the last 24 hours to the end of the current minute (the form
    holds minutes; an end rounded down would leave out this minute's transactions, and a
    future end is cut to the moment the backtest starts)."""
    end = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    return Range(end - timedelta(days=1), end)


def candidate_spec(
    *,
    rule_id: str,
    version: int,
    name: str,
    expression: str,
    action: str,
    priority: int,
    mode: str,
    description: str = "",
) -> dict[str, Any]:
    """The candidate as stored with the backtest and replayed: a plain rule spec (the
    rule engine checks it: raises InvalidRuleSpec for a malformed action or mode)."""
    data = {
        "rule_id": rule_id,
        "version": version,
        "name": name,
        "expression": expression,
        "action": action,
        "priority": priority,
        "mode": mode,
        "description": description,
    }
    RuleSpec.from_dict(data)
    return data


def spec_of(candidate: dict[str, Any]) -> RuleSpec:
    return RuleSpec.from_dict(candidate)


def backtest_modes() -> list[str]:
    """The modes a candidate may be backtested in: active (what it would change live)
    first; disabled shows what removing the rule would change."""
    return [RuleMode.ACTIVE.value, RuleMode.SHADOW.value, RuleMode.DISABLED.value]


def shown_status(status: str, deadline: datetime, now: datetime) -> str:
    """The status to show: an open backtest long past its deadline is ``lost``."""
    return "lost" if status in OPEN and now > deadline + GRACE else status


def progress_share(read: int, total: int | None) -> float | None:
    """How far the replay has read, 0..1 (None while the range is being planned)."""
    if not total:
        return None
    return min(1.0, read / total)


@dataclass(frozen=True, slots=True)
class Side:
    """One side's figures over the replayed transactions: live (the ledger) or candidate."""

    approve: int
    review: int
    decline: int
    fraud_caught: int
    precision: float | None  # caught that are fraud
    recall: float | None  # fraud that is caught

    @property
    def caught(self) -> int:
        return self.review + self.decline


@dataclass(frozen=True, slots=True)
class Summary:
    replayed: int
    in_ledger: int
    changed: int
    labelled: int
    fraud: int
    live: Side
    candidate: Side
    transitions: list[dict[str, Any]]
    rule_hits: list[dict[str, Any]]  # the candidate rule's rows of the report's rules


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _side(outcomes: dict[str, int], fraud_caught: int, fraud: int) -> Side:
    counts = {o.value: outcomes.get(o.value, 0) for o in Outcome}
    caught = counts["REVIEW"] + counts["DECLINE"]
    return Side(
        approve=counts["APPROVE"],
        review=counts["REVIEW"],
        decline=counts["DECLINE"],
        fraud_caught=fraud_caught,
        precision=_ratio(fraud_caught, caught),
        recall=_ratio(fraud_caught, fraud),
    )


def summarize(report: dict[str, Any], rule_id: str) -> Summary:
    """The replay's report as the result page shows it. Live figures cover the replayed
    transactions the ledger holds; recall's denominator is every labelled fraud replayed."""
    totals, labels, outcomes = report["totals"], report["labels"], report["outcomes"]
    fraud = labels["fraud"]
    return Summary(
        replayed=totals["replayed"],
        in_ledger=totals["in_ledger"],
        changed=totals["changed"],
        labelled=labels["labelled"],
        fraud=fraud,
        live=_side(outcomes["live"], labels["fraud_caught_live"], fraud),
        candidate=_side(outcomes["replay"], labels["fraud_caught_replay"], fraud),
        transitions=[t for t in report["transitions"] if t["count"]],
        rule_hits=[r for r in report["rules"] if r["rule_id"] == rule_id],
    )


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    side: str  # "live" or "candidate"
    count: int
    x: float
    y: float
    height: float


CHART_TOP = 16.0  # room for the tallest bar's count above it
CHART_HEIGHT = 160.0
GROUP_WIDTH = 140.0
BAR_WIDTH = 48.0


def outcome_bars(summary: Summary) -> list[Bar]:
    """Grouped bars, live beside candidate, per outcome, scaled to the tallest (SVG units:
    y grows downwards, bars stand on the axis at ``CHART_TOP + CHART_HEIGHT``)."""
    pairs = [
        ("APPROVE", summary.live.approve, summary.candidate.approve),
        ("REVIEW", summary.live.review, summary.candidate.review),
        ("DECLINE", summary.live.decline, summary.candidate.decline),
    ]
    top = max([1, *(n for _label, live, cand in pairs for n in (live, cand))])
    bars = []
    for i, (label, live, cand) in enumerate(pairs):
        for j, (side, count) in enumerate((("live", live), ("candidate", cand))):
            height = CHART_HEIGHT * count / top
            x = 40 + i * GROUP_WIDTH + j * (BAR_WIDTH + 4)
            bars.append(Bar(label, side, count, x, CHART_TOP + CHART_HEIGHT - height, height))
    return bars
