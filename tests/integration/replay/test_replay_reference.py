"""`sentinel replay` on topics that carry what the `make up` pipeline's do, with two workers.

The seed rules (UUID ids, one in shadow mode) and lists come from `sentinel rules load`, as
`sentinel pipeline bootstrap` runs it; a list with members, account profiles and merchant
risk for the current hours are on their compacted topics, as the admin API and the
merchant-risk job publish them. A real agent decides the transactions, the ledger writer
records them, and the replay must run across worker processes (every reference value
crosses to them), decide as the agent did, and name rules by name and version.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from ledger_sink.writer import LedgerWriter
from schemas.codec import encode_account_profile, encode_merchant_risk, encode_named_list
from schemas.records import AccountProfile, MerchantRisk, NamedList
from schemas.topics import ACCOUNTS, LISTS, MERCHANT_RISK
from tests.support.agents import (
    BOOTSTRAP,
    SENTINEL,
    Workers,
    produce,
    transactions,
    wait_for_decisions,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ACCOUNT_COUNT = 6
MERCHANTS = [f"m-{n}" for n in range(5)]
# Changes the seed velocity rule by its name (the live one has a UUID id).
CANDIDATE = {
    "rules": [
        {
            "rule_id": "velocity-candidate",
            "version": 2,
            "name": "Many transactions in an hour",
            "expression": "count_1h >= 8",
            "action": "REVIEW",
            "priority": 40,
        },
        {
            "rule_id": "big-shadow",
            "version": 1,
            "name": "Big amount (trial)",
            "expression": "amount > 50",
            "action": "DECLINE",
            "mode": "shadow",
        },
    ]
}


def publish_reference(prefix: str, hours: list[datetime]) -> None:
    """A list with members, every account's profile, merchant risk stamped for ``hours``."""
    producer = Producer({"bootstrap.servers": BOOTSTRAP, "partitioner": "murmur2_random"})
    now = datetime.now(UTC)
    stolen = NamedList(name="blocked_cards", kind="cards", values=("tok_stolen",), updated_at=now)
    producer.produce(f"{prefix}{LISTS.name}", encode_named_list(stolen), b"blocked_cards")
    for a in range(ACCOUNT_COUNT):
        profile = AccountProfile(
            account_id=f"acct-{a}", home_country="IN", home_lat=19.07, home_lon=72.87,
            updated_at=now,
        )  # fmt: skip
        producer.produce(
            f"{prefix}{ACCOUNTS.name}", encode_account_profile(profile), profile.account_id.encode()
        )
    for hour in hours:  # the later hour last: it is the one the topic keeps per merchant
        for n, merchant in enumerate(MERCHANTS):
            risk = MerchantRisk(
                merchant_id=merchant, hour=hour, tx_1d=40 + n, risk_1d=0.05 * n, tx_7d=300,
                risk_7d=0.02, tx_30d=1200, risk_30d=0.01 * n, computed_at=now,
            )  # fmt: skip
            producer.produce(
                f"{prefix}{MERCHANT_RISK.name}", encode_merchant_risk(risk), merchant.encode()
            )
    assert producer.flush(10) == 0


def assert_no_rule_ids(shown: str, report: dict[str, Any]) -> None:
    """The terminal names rules by name and version, never by their (UUID) ids."""
    for rule in report["rules"]:
        assert rule["rule_id"][:8] not in shown, (rule, shown)


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([SENTINEL, *args], env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_replay_with_live_reference_data_across_two_workers(
    agents: tuple[str, Workers], ledger: str, tmp_path: Path
) -> None:
    prefix, workers = agents
    # COLUMNS: rich's table width off a terminal, wide enough that no rule name wraps.
    env = {**os.environ, "SENTINEL_KAFKA_TOPIC_PREFIX": prefix,
           "SENTINEL_POSTGRES_DSN": ledger, "COLUMNS": "250"}  # fmt: skip
    run(env, "rules", "load")  # seed rules (one in shadow mode) and lists, as bootstrap does
    start = (datetime.now(UTC) - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    publish_reference(prefix, [start, start + timedelta(hours=1)])
    workers.start()
    txs = transactions(accounts=ACCOUNT_COUNT, per_account=30, start=start + timedelta(minutes=5))
    first, second = txs[:90], txs[90:]
    produce(prefix, first)
    time.sleep(0.5)
    since = datetime.now(UTC)
    time.sleep(0.5)
    produce(prefix, second)
    live = wait_for_decisions(prefix, {t.transaction_id for t in txs})
    writer = LedgerWriter(ledger)
    writer.write(live)
    writer.close()

    # The agents' own rules and reference data, no candidate: decided as live, warm-up full.
    models = str(tmp_path / "models")
    common = ("replay", "--from", since.isoformat(), "--workers", "2", "--registry", models)
    plain = run(env, *common, "--out", str(tmp_path / "plain"))
    report = json.loads((tmp_path / "plain" / "report.json").read_text())
    assert report["run"]["workers"] == 2
    assert (report["totals"]["replayed"], report["totals"]["in_ledger"]) == (90, 90)
    assert report["totals"]["changed"] == 0, report["examples"]
    assert report["scores"]["live"] == report["scores"]["replay"]
    assert report["warmup"]["warning"] is None
    rules = {r["name"]: r for r in report["rules"]}
    velocity = rules["Many transactions in an hour"]
    assert velocity["live_hits"] == velocity["replay_hits"] > 0
    assert velocity["label"] == "Many transactions in an hour v1"
    assert "cold features" not in plain.stdout
    assert "Many transactions in an hour v1" in plain.stdout
    assert_no_rule_ids(plain.stdout, report)

    # A candidate from a file and one from PostgreSQL, no warm-up: the first records of each
    # account are decided cold, and the report says so.
    candidate = tmp_path / "candidate.json"
    candidate.write_text(json.dumps(CANDIDATE))
    rules = ("--rules", str(candidate), "--rule", "Night spree (shadow)@1")
    cold = run(env, *common, "--warmup", "0", *rules, "--out", str(tmp_path / "cold"))
    report = json.loads((tmp_path / "cold" / "report.json").read_text())
    assert report["run"]["workers"] == 2
    assert report["totals"]["replayed"] == 90 and report["totals"]["changed"] > 0
    warmup = report["warmup"]
    assert warmup["short"] and warmup["cold_changes"] == report["totals"]["changed"]
    assert "cold features" in warmup["warning"] and "cold features" in cold.stdout
    assert len(report["candidate"]["changed_rules"]) == 3  # the file's two, the database's one
    labels = {(r["label"], r["mode"]) for r in report["rules"]}
    assert {("Many transactions in an hour v2", "active"),
            ("Many transactions in an hour v1", "active"),  # its live hits, by the ledger
            ("Big amount (trial) v1", "shadow")} <= labels  # fmt: skip
    assert_no_rule_ids(cold.stdout, report)
