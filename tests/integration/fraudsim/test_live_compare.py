"""Champion against challenger from the real ledger: `sentinel models compare` and the query
the console's Models page shares (``fraudsim.live_compare``), figure by figure."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from ledger_sink.testing import decision, transaction
from schemas.records import Decision, Outcome
from sentinel_cli.main import app
from tests.support.api import api_db, module_id
from tests.support.console import write_ledger
from tests.support.models import card_like_training, train_tiny_model

pytestmark = pytest.mark.integration
__all__ = ["api_db", "module_id"]  # fixtures: a database of this module's own

# (champion score, challenger score, outcome taken, labelled fraud / genuine / none)
ROWS = [
    (0.95, 0.30, Outcome.DECLINE, True),
    (0.70, 0.92, Outcome.REVIEW, True),
    (0.65, 0.10, Outcome.REVIEW, False),
    (0.20, 0.75, Outcome.APPROVE, None),
    (0.10, 0.05, Outcome.APPROVE, True),  # a fraud both missed: a chargeback weeks later
    (0.05, 0.02, Outcome.APPROVE, None),
]


def shadow_scored(dsn: str, champion: str, challenger: str) -> list[Decision]:
    at = datetime.now(UTC) - timedelta(minutes=30)
    made = []
    for n, (score, shadow, outcome, _) in enumerate(ROWS):
        tx = transaction(f"acct-lc-{uuid.uuid4().hex[:8]}", at=at + timedelta(seconds=n))
        made.append(
            replace(
                decision(tx, outcome, risk_score=score),
                model_version=champion,
                challenger_model_version=challenger,
                challenger_score=shadow,
            )
        )
    write_ledger(dsn, made)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for d, (*_, fraud) in zip(made, ROWS, strict=True):
            if fraud is not None:
                conn.execute(
                    "INSERT INTO labels (transaction_id, account_id, merchant_id, is_fraud,"
                    " labelled_at, transaction_ts) VALUES (%s, %s, %s, %s, now(), %s)",
                    (d.transaction_id, d.account_id, d.transaction.merchant_id, fraud,
                     d.transaction.timestamp),
                )  # fmt: skip
    return made


def test_compare_prints_each_sides_rates_precision_and_recall(api_db: str, tmp_path: Path) -> None:
    # Thresholds of the champion's card: review at 0.6, decline at 0.9.
    train_tiny_model(tmp_path, "lc-champion", card=card_like_training(1))
    card = json.loads((tmp_path / "lc-champion" / "card.json").read_text())
    assert (card["thresholds"]["review_at"], card["thresholds"]["decline_at"]) == (0.6, 0.9)
    shadow_scored(api_db, "lc-champion", "lc-challenger")
    env = {"SENTINEL_POSTGRES_DSN": api_db}
    args = ["models", "compare", "--registry", str(tmp_path), "--champion", "lc-champion"]
    result = CliRunner().invoke(app, [*args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert (printed["review_at"], printed["decline_at"]) == (0.6, 0.9)
    [pair] = printed["pairs"]
    assert pair["champion"] == "lc-champion" and pair["challenger"] == "lc-challenger"
    assert (pair["decisions"], pair["labelled"], pair["frauds"], pair["declined"]) == (6, 4, 3, 1)
    assert pair["disagreements"] == 3  # 0.95/0.30, 0.65/0.10, 0.20/0.75
    # Champion flags 0.95, 0.70, 0.65 (two frauds); challenger 0.92, 0.75 (one fraud).
    champion, challenger = pair["figures"]["champion"], pair["figures"]["challenger"]
    assert champion["flagged"] == 3 and champion["precision"] == pytest.approx(2 / 3)
    assert champion["recall"] == pytest.approx(2 / 3)
    assert champion["decline_rate"] == pytest.approx(1 / 6)
    assert challenger["flagged"] == 2 and challenger["precision"] == pytest.approx(1 / 2)
    assert challenger["recall"] == pytest.approx(1 / 3)
    assert challenger["decline_rate"] == pytest.approx(1 / 6)
    table = CliRunner().invoke(app, args, env=env)
    assert table.exit_code == 0 and "lc-challenger (challenger)" in table.output
    assert "66.7%" in table.output and "33.3%" in table.output


def test_compare_says_so_when_nothing_was_scored_in_shadow(api_db: str, tmp_path: Path) -> None:
    # The other test's decisions are half an hour old: outside the last quarter hour.
    result = CliRunner().invoke(
        app,
        ["models", "compare", "--registry", str(tmp_path), "--hours", "0.25"],
        env={"SENTINEL_POSTGRES_DSN": api_db},
    )
    assert result.exit_code == 0, result.output
    assert "no decision of that window was scored by a challenger" in result.output
