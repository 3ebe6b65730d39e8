"""The report as rich tables on the terminal, and as JSON and CSV files in ``--out``."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from decision_core.placement import REFUSED
from replay.report import MISSING, OUTCOMES, Change
from replay.summary import rule_labels


def show(console: Console, report: Mapping[str, Any]) -> None:
    """Print the report's tables."""
    for table in (
        _outcomes(report),
        _labels(report),
        _rules(report),
        _scores(report),
        _examples(report),
    ):
        if table.row_count:
            console.print(table)
    run = report.get("run", {})
    totals = report["totals"]
    console.print(
        f"replayed {totals['replayed']:,} transactions (warm-up {totals['warmed']:,}) in"
        f" {run.get('elapsed_s', 0):.1f} s: {run.get('replayed_per_s') or 0:,.0f} tx/s;"
        f" {totals['changed']:,} changed outcome, {totals['missing_from_ledger']:,} not in the"
        " ledger"
    )
    placed = placement_line(report)
    if placed:
        console.print(placed, highlight=False)
    warning = report.get("warmup", {}).get("warning")
    if warning:
        # Last, where the eye lands: the changes above may not be the candidate's doing.
        console.print(f"[bold yellow]warning: {warning}[/bold yellow]", highlight=False)


def placement_line(report: Mapping[str, Any]) -> str | None:
    """What the agents' placement took out of the range, in a line; None when nothing."""
    totals, counts = report["totals"], report.get("placement", {})
    if not totals.get("forwarded_skipped") and not totals.get("misplaced_rejected"):
        return None
    refused = ", ".join(
        f"{reason} {n:,}" for reason, n in counts.items() if n and reason in REFUSED
    )
    return (
        f"placement: {totals['forwarded_skipped']:,} forwarded originals skipped (their"
        f" copies replayed), {totals['misplaced_rejected']:,} rejected as the agents"
        f" dead-lettered them{f' ({refused})' if refused else ''}"
    )


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    return table


def _outcomes(report: Mapping[str, Any]) -> Table:
    table = _table(
        "outcomes: live (rows) vs replay (columns)", "live \\ replay", *OUTCOMES, "total"
    )
    cells = {(t["live"], t["replay"]): t["count"] for t in report["transitions"]}
    for before in (*OUTCOMES, MISSING):
        row = [cells.get((before, now), 0) for now in OUTCOMES]
        if before != MISSING or any(row):
            table.add_row(before, *(f"{n:,}" for n in row), f"{sum(row):,}")
    replay = report["outcomes"]["replay"]
    table.add_row("total", *(f"{replay[o]:,}" for o in OUTCOMES), f"{sum(replay.values()):,}")
    return table


def _labels(report: Mapping[str, Any]) -> Table:
    table = _table("against labels", "measure", "count")
    for name, value in report["labels"].items():
        table.add_row(name.replace("_", " "), f"{value:,}")
    return table


def _rules(report: Mapping[str, Any]) -> Table:
    table = _table(
        "rules", "rule", "mode", "live hits", "replay hits", "live precision", "replay precision"
    )
    for rule in report["rules"]:
        table.add_row(
            rule["label"],
            rule["mode"],
            f"{rule['live_hits']:,}",
            f"{rule['replay_hits']:,}",
            _share(rule["live_precision"]),
            _share(rule["replay_precision"]),
        )
    return table


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _scores(report: Mapping[str, Any]) -> Table:
    scores = report["scores"]
    names = list(scores["replay"]["quantiles"])
    table = _table("risk score distribution", "", "n", "mean", *names)
    for side in ("live", "replay"):
        dist = scores[side]
        mean = "-" if dist["mean"] is None else f"{dist['mean']:.3f}"
        quantiles = [_number(dist["quantiles"][q]) for q in names]
        table.add_row(side, f"{dist['count']:,}", mean, *quantiles)
    return table


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _examples(report: Mapping[str, Any]) -> Table:
    table = _table(
        "changed outcomes (examples)",
        "transaction",
        "amount",
        "live",
        "replay",
        "score live/replay",
        "rules added",
        "rules removed",
        "label",
    )
    for ex in report["examples"]:
        table.add_row(
            ex["transaction_id"],
            f"{ex['amount']} {ex['currency']}",
            ex["live_outcome"],
            ex["replay_outcome"],
            f"{ex['live_score']:.3f} / {ex['replay_score']:.3f}",
            ex["rules_added_names"],
            ex["rules_removed_names"],
            ex["label"],
        )
    return table


def write(out: Path, report: Mapping[str, Any], changes: Sequence[Change]) -> list[Path]:
    """report.json, changes.csv (every changed transaction), rules.csv, outcomes.csv and
    scores.csv in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "report.json"]
    written[0].write_text(json.dumps(report, indent=2, default=str) + "\n")
    rules = report["rules"]
    labels = {rule["rule_id"]: rule["label"] for rule in rules}
    named = ["rules_added_names", "rules_removed_names"]
    rows = (
        {
            **c.row(),
            named[0]: rule_labels(c.rules_added, labels),
            named[1]: rule_labels(c.rules_removed, labels),
        }
        for c in changes
    )
    written.append(_csv(out / "changes.csv", [f.name for f in fields(Change)] + named, rows))
    written.append(_csv(out / "rules.csv", list(rules[0]) if rules else [], rules))
    written.append(_csv(out / "outcomes.csv", ["live", "replay", "count"], report["transitions"]))
    written.append(
        _csv(out / "scores.csv", ["from", "to", "live", "replay"], report["scores"]["histogram"])
    )
    return written


def _csv(path: Path, columns: list[str], rows: Iterable[Mapping[str, Any]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path
