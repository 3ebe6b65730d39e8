"""The report written as JSON and CSV, and shown as tables (no services)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from rich.console import Console

from replay.database import LiveDecision
from replay.output import show, write
from replay.report import Replayed, ReportPart
from replay.summary import summarize
from schemas.enums import Outcome


def test_report_json_and_csvs_hold_the_same_figures(tmp_path: Path) -> None:
    part = ReportPart(read=2, decided=2)
    for tid, now, before, rules in (("t1", Outcome.APPROVE, Outcome.REVIEW, ("big",)),
                                    ("t2", Outcome.REVIEW, Outcome.REVIEW, ())):  # fmt: skip
        replayed = Replayed(tid, "a", 0, 1, "2026-11-30T10:00:00+00:00", "70.25", "INR", now,
                            0.2, (), (), ("amount=70.25",))  # fmt: skip
        part.add(replayed, LiveDecision(before, 0.2, "m", rules, ()), tid == "t1")
    report = summarize(part)
    paths = write(tmp_path, report, part.changes)
    assert [p.name for p in paths] == [
        "report.json", "changes.csv", "rules.csv", "outcomes.csv", "scores.csv",
    ]  # fmt: skip
    assert json.loads((tmp_path / "report.json").read_text())["totals"]["changed"] == 1
    with (tmp_path / "changes.csv").open() as handle:
        (row,) = list(csv.DictReader(handle))
    assert (row["transaction_id"], row["rules_removed"], row["label"]) == ("t1", "big", "fraud")
    with (tmp_path / "rules.csv").open() as handle:
        (rule,) = list(csv.DictReader(handle))
    assert (rule["rule_id"], rule["live_hits"], rule["replay_hits"]) == ("big", "1", "0")
    console = Console(record=True, width=200)
    show(console, {**report, "run": {"elapsed_s": 1.0, "replayed_per_s": 2.0}})
    text = console.export_text()
    assert "outcomes: live (rows) vs replay (columns)" in text and "t1" in text
