"""The live Overview in a real browser (Debian's Chromium via Playwright): a viewer watches
decisions written by the real ledger writer arrive without reloading the page, the chart
drawn by uPlot from the stream, the lag of a real consumer group, the top rules by name and
the latest DECLINEs with their reasons."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from ledger_sink.testing import decision, transaction
from schemas.connections import KafkaConnection
from schemas.records import Decision, Outcome, ReasonCode, RuleHit
from tests.support.browser import screenshots, signed_in
from tests.support.console import write_ledger

pytestmark = pytest.mark.e2e

# Rows of the chart's canvas holding the decisions/s line's colour (#1f6feb): a line at
# zero all along would fill one or two.
LINE_ROWS = """() => {
  const canvas = document.querySelector("#chart canvas");
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const rows = new Set();
  for (let i = 0; i < pixels.length; i += 4) {
    if (Math.abs(pixels[i] - 0x1f) < 30 && Math.abs(pixels[i + 1] - 0x6f) < 30
        && Math.abs(pixels[i + 2] - 0xeb) < 30 && pixels[i + 3] > 200) {
      rows.add(Math.floor(i / 4 / canvas.width));
    }
  }
  return rows.size;
}"""


def traffic(rule_id: str) -> list[Decision]:
    """Approvals spread over the last minutes, and DECLINEs that fired the rule."""
    now = datetime.now(UTC)
    made = [
        decision(transaction(f"acct-{uuid.uuid4().hex[:6]}", at=now - timedelta(minutes=m)))
        for m, count in ((2, 30), (3, 18), (4, 42), (6, 12), (9, 25))
        for _ in range(count)
    ]
    hit = (RuleHit(rule_id=rule_id, version=2, action="DECLINE"),)
    reasons = (
        ReasonCode(feature="amount_zscore", value=5.1, contribution=0.42),
        ReasonCode(feature="new_country", value=1.0, contribution=0.18),
    )
    for m in (2, 3, 4):
        tx = transaction(f"acct-{uuid.uuid4().hex[:6]}", "1890.00", at=now - timedelta(minutes=m))
        made.append(
            replace(
                decision(tx, Outcome.DECLINE, risk_score=0.93),
                rules_fired=hit,
                reason_codes=reasons,
            )
        )
    return made


def behind(topic_prefix: str) -> Consumer:
    """The ledger sink's group on the module's topics, five records behind on partition 0."""
    kafka = KafkaConnection()
    topic = f"{topic_prefix}decisions"
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers, "acks": "all"})
    for n in range(7):
        producer.produce(topic, b"x", f"k{n}".encode(), partition=0)
    producer.flush(10)
    sink = Consumer(
        {"bootstrap.servers": kafka.bootstrap_servers, "group.id": f"{topic_prefix}ledger-sink"}
    )
    sink.commit(offsets=[TopicPartition(topic, 0, 2)], asynchronous=False)
    return sink


def test_a_viewer_sees_the_overview_update_live_and_its_chart_drawn(
    console_url: str,
    api_db: str,
    topic_prefix: str,
    make_user: Callable[[str], str],
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    with psycopg.connect(api_db, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO rules (name, created_by) VALUES ('Big amount abroad', 'test')"
            " RETURNING rule_id::text"
        ).fetchone()
    assert row is not None
    write_ledger(api_db, traffic(row[0]))
    sink = behind(topic_prefix)
    try:
        with signed_in(console_url, make_user("viewer"), height=1300) as page:
            chart = page.locator("#chart")
            expect(chart).to_have_attribute("data-points", "15")
            expect(chart.locator("canvas")).to_be_visible()
            assert page.evaluate(LINE_ROWS) > 10  # a line that rises and falls: data drawn
            lag = page.locator("#lag tr", has_text="ledger sink")
            expect(lag).to_contain_text("5")
            expect(page.locator("#top-rules")).to_contain_text("Big amount abroad")
            expect(page.locator("#declines")).to_contain_text("amount_zscore (+0.42)")
            before = int(page.locator("#total").inner_text())
            page.evaluate("window.stillTheSamePage = true")
            at = datetime.now(UTC) - timedelta(minutes=2)
            write_ledger(api_db, [decision(transaction(f"acct-l{n}", at=at)) for n in range(6)])
            expect(page.locator("#total")).to_have_text(str(before + 6), timeout=10_000)
            assert page.evaluate("window.stillTheSamePage") is True  # updated, not reloaded
            page.screenshot(path=str(screenshots(tmp_path) / "overview.png"), full_page=True)
    finally:
        sink.close()
