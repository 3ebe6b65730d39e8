"""The live view's pure parts: new decisions apart from redeliveries, rule names, the summary."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rich.console import Console

from deploy.local.view import declines_table, rules_table
from deploy.local.view_window import Recent, RuleNames, Window
from schemas.enums import Channel, Outcome, RuleMode, TxType
from schemas.records import Decision, Rule, RuleHit, Transaction, decision_id_for

T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)
SUMMARY = re.compile(
    r"^decisions/s (\d+\.\d) new/s (\d+\.\d) redeliveries/s (\d+\.\d) decisions (\d+) new (\d+)"
    r" APPROVE (\d+) REVIEW (\d+) DECLINE (\d+) p50_ms (\d+\.\d) p95_ms (\d+\.\d)"
    r" p99_ms (\d+\.\d) seconds (\d+\.\d)$"
)


def decision(
    n: int, outcome: Outcome = Outcome.APPROVE, hits: tuple[RuleHit, ...] = ()
) -> Decision:
    tx = Transaction(
        transaction_id=f"t{n}",
        account_id="a",
        card_token="tok_abcdefgh",
        amount=Decimal("9.99"),
        currency="EUR",
        merchant_id="m",
        country="FR",
        channel=Channel.POS,
        timestamp=T0,
        type=TxType.DEBIT,
    )
    return Decision(
        decision_id=decision_id_for(f"t{n}"),
        transaction_id=f"t{n}",
        account_id="a",
        outcome=outcome,
        risk_score=0.9,
        ingested_at=T0,
        decided_at=T0 + timedelta(milliseconds=10 + n),
        transaction=tx,
        rules_fired=hits,
    )


def rule(rule_id: str, name: str) -> Rule:
    return Rule(
        rule_id=rule_id,
        version=1,
        name=name,
        description="",
        expression="amount > 1",
        action="DECLINE",
        priority=1,
        mode=RuleMode.ACTIVE,
        author="test",
        updated_at=T0,
    )


def text(table: object) -> str:
    console = Console(record=True, width=200)
    console.print(table)
    return console.export_text()


def test_redeliveries_are_counted_apart_and_leave_mix_rules_and_latency_alone() -> None:
    window = Window()
    hit = RuleHit(rule_id="7edeb737-0000", version=1, action="DECLINE")
    for n in range(10):
        assert window.add(decision(n, Outcome.DECLINE, (hit,)), now=100.0 + n * 0.1)
    for n in range(4):  # a worker restarted: the same transactions decided again
        late = replace(decision(n, Outcome.DECLINE, (hit,)), decided_at=T0 + timedelta(seconds=30))
        assert not window.add(late, now=101.0 + n * 0.1)
    assert (window.total, window.total_new) == (14, 10)
    assert window.rate(now=101.5, span=5.0) == 14 / 5
    assert window.new_rate(now=101.5, span=5.0) == 10 / 5
    assert window.outcomes["DECLINE"] == 10
    assert window.rules[("7edeb737-0000", 1, "DECLINE")] == 10
    assert window.latency_ms()[2] < 100  # the re-decisions' 30 s are not latency
    assert len(window.declines) == 5


def test_the_memory_of_seen_decisions_is_bounded() -> None:
    recent = Recent(3)
    assert all(recent.add(key) for key in ("a", "b", "c", "d"))
    assert len(recent) == 3
    assert not recent.add("d")
    assert recent.add("a")  # forgotten: beyond the bound a redelivery counts as new


def test_the_summary_is_one_plain_parseable_line() -> None:
    window = Window()
    for n in range(30):
        window.add(decision(n, Outcome.REVIEW if n % 3 else Outcome.APPROVE), now=float(n))
    for n in range(6):
        window.add(decision(n), now=30.0)
    line = window.summary(elapsed_s=12.0)
    match = SUMMARY.match(line)
    assert match is not None, line
    assert match.group(1, 2, 3, 4, 5) == ("3.0", "2.5", "0.5", "36", "30")
    assert match.group(6, 7, 8) == ("10", "20", "0")
    assert match.group(12) == "12.0"


def test_rules_are_shown_by_name_and_by_short_id_when_unknown() -> None:
    names = RuleNames()
    names.apply("7edeb737-aaaa", rule("7edeb737-aaaa", "Regular customer at home"))
    names.apply("7edeb737-aaaa", None)  # deleted since: decisions still name it
    assert names.label("7edeb737-aaaa") == "Regular customer at home"
    assert names.label("0123456789abcdef") == "01234567"
    window = Window()
    known = RuleHit(rule_id="7edeb737-aaaa", version=3, action="SCORE-0.1")
    unknown = RuleHit(rule_id="0123456789abcdef", version=1, action="DECLINE")
    window.add(decision(1, Outcome.DECLINE, (known, unknown)), now=0.0)
    rules = text(rules_table(window, names))
    assert "Regular customer at home" in rules and "v3" in rules and "SCORE-0.1" in rules
    assert "7edeb737" not in rules and "01234567" in rules
    declines = text(declines_table(window, names))
    assert "Regular customer at home, 01234567" in declines
