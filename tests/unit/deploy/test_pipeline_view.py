"""The demo pipeline's service list and the live view's arithmetic (no services)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from deploy.local.pipeline import demo_services
from deploy.local.settings import StackSettings
from deploy.local.view_window import Window
from schemas.enums import Channel, Outcome, TxType
from schemas.records import Decision, RuleHit, Transaction, decision_id_for

T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)


def decision(n: int, outcome: Outcome, wait_ms: int) -> Decision:
    tx = Transaction(
        transaction_id=f"t{n}",
        account_id="a",
        card_token="tok_abcdefgh",
        amount=Decimal("1.00"),
        currency="INR",
        merchant_id="m",
        country="IN",
        channel=Channel.POS,
        timestamp=T0,
        type=TxType.DEBIT,
    )
    hits = (
        (RuleHit(rule_id="r-1", version=2, action="DECLINE"),) if outcome is Outcome.DECLINE else ()
    )
    return Decision(
        decision_id=decision_id_for(f"t{n}"),
        transaction_id=f"t{n}",
        account_id="a",
        outcome=outcome,
        risk_score=0.5,
        ingested_at=T0,
        decided_at=T0 + timedelta(milliseconds=wait_ms),
        transaction=tx,
        rules_fired=hits,
    )


def test_every_service_of_the_pipeline_is_supervised(tmp_path: Path) -> None:
    names = [s.name for s in demo_services(StackSettings(dir=tmp_path), 50, tmp_path / "m")]
    assert names == [
        "api",
        "agent-1",
        "agent-2",
        "sink",
        "labels",
        "reviews",
        "merchant-risk",
        "rules-relay",
        "webhooks",
        "console",
        "traffic",
        "http-traffic",
    ]


def test_window_rates_mix_latency_rules_and_declines() -> None:
    window = Window(seconds=60)
    for n in range(100):
        outcome = Outcome.DECLINE if n % 10 == 0 else Outcome.APPROVE
        window.add(decision(n, outcome, wait_ms=n + 1), now=1000.0 + n * 0.01)
    assert window.rate(now=1001.0, span=5.0) == 20.0
    assert (window.outcomes["APPROVE"], window.outcomes["DECLINE"]) == (90, 10)
    assert window.latency_ms() == (51.0, 96.0, 100.0)
    assert window.rules.most_common(1) == [(("r-1", 2, "DECLINE"), 10)]
    assert len(window.declines) == 5


def test_old_decisions_leave_the_window() -> None:
    window = Window(seconds=10)
    window.add(decision(1, Outcome.APPROVE, 5), now=0.0)
    window.add(decision(2, Outcome.APPROVE, 7), now=20.0)
    assert [d.transaction_id for _at, d, _new in window.seen] == ["t2"]
