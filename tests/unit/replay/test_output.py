"""The report written as JSON and CSV, and shown as tables and lines (no services)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from rich.console import Console

from decision_core.placement import FORWARDED, KEY_MISSING, KEY_NOT_ACCOUNT, STILL_MISPLACED
from replay.database import LiveDecision
from replay.output import placement_line, show, write
from replay.report import Replayed, ReportPart
from replay.summary import summarize, warmup_summary
from rule_engine import RuleAction, RuleSpec
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


def test_tables_name_rules_by_name_and_version_and_end_with_the_warm_up_warning(
    tmp_path: Path,
) -> None:
    rule_id = "7edeb737-0c1d-4b7e-9a51-2f0f7c1d9e10"
    velocity = RuleSpec(rule_id=rule_id, version=1, name="Many transactions in an hour",
                        expression="count_1h >= 5", action=RuleAction.parse("REVIEW"))  # fmt: skip
    part = ReportPart(read=1, decided=1)
    replayed = Replayed("t1", "a", 0, 1, "2026-11-30T10:00:00+00:00", "70.25", "INR",
                        Outcome.APPROVE, 0.2, (), (), (), cold=True)  # fmt: skip
    part.add(replayed, LiveDecision(Outcome.REVIEW, 0.2, "m", (rule_id,), ()), None)
    report = {**summarize(part, {rule_id: velocity}), "warmup": warmup_summary(part, 0),
              "run": {"elapsed_s": 1.0, "replayed_per_s": 1.0}}  # fmt: skip
    console = Console(record=True, width=250)
    show(console, report)
    text = console.export_text()
    assert "Many transactions in an hour v1" in text  # the rules table and the example
    assert rule_id not in text and rule_id[:8] not in text
    last = " ".join(text.split())  # the warning wraps at the console's width
    assert last.endswith(
        "warning: --warmup 0 is shorter than the longest feature window (30d): 1 of 1 changed"
        " outcomes (1 of 1 replayed transactions) were decided with less than 30d of their"
        " account's history read, so those changes may come from cold features rather than"
        " from the candidate. Warm up with --warmup 30d5m (the default) or --warmup all."
    )
    write(tmp_path, report, part.changes)
    assert json.loads((tmp_path / "report.json").read_text())["warmup"]["cold_changes"] == 1
    with (tmp_path / "changes.csv").open() as handle:
        (row,) = list(csv.DictReader(handle))
    assert (row["rules_removed"], row["rules_removed_names"], row["cold"]) == (
        rule_id, "Many transactions in an hour v1", "True"
    )  # fmt: skip
    with (tmp_path / "rules.csv").open() as handle:
        (rule,) = list(csv.DictReader(handle))
    assert (rule["label"], rule["version"]) == ("Many transactions in an hour v1", "1")


def test_no_warning_after_a_full_warm_up() -> None:
    part = ReportPart(read=1, decided=1)
    report = {**summarize(part), "warmup": warmup_summary(part, None), "run": {}}
    console = Console(record=True, width=200)
    show(console, report)
    assert "warning" not in console.export_text()


def test_the_agents_placement_is_counted_merged_and_shown_in_a_line() -> None:
    one, two = ReportPart(read=3), ReportPart(read=2)
    one.placement.update({FORWARDED: 2, KEY_MISSING: 1})
    two.placement.update({FORWARDED: 1, KEY_NOT_ACCOUNT: 1})
    report = summarize(one.merge(two))
    assert (report["totals"]["forwarded_skipped"], report["totals"]["misplaced_rejected"]) == (3, 2)
    assert report["placement"] == {
        FORWARDED: 3,
        KEY_MISSING: 1,
        KEY_NOT_ACCOUNT: 1,
        STILL_MISPLACED: 0,
    }
    assert placement_line(report) == (
        "placement: 3 forwarded originals skipped (their copies replayed), 2 rejected as the"
        " agents dead-lettered them (key_missing 1, key_not_account 1)"
    )
    assert placement_line(summarize(ReportPart())) is None
