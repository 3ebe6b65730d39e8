"""The Overview's stream on a real console: figures, top rules and DECLINEs from decisions
written by the real ledger writer, lag from a real consumer group on the module's own topics
(never committed by the console), sessions that end the stream, and a pool that open streams
do not hold."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from ledger_sink.testing import decision, transaction
from schemas.connections import KafkaConnection
from schemas.records import Decision, Outcome, ReasonCode, RuleHit
from tests.support.console import next_event, page_token, sign_in, sse_events, write_ledger

pytestmark = pytest.mark.integration

STREAM = "/console/overview/stream"
EVENTS = {"Accept": "text/event-stream"}


@pytest.fixture
def client(console_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console_url, timeout=10) as c:
        yield c


def named_rule(dsn: str, name: str) -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO rules (name, created_by) VALUES (%s, 'test') RETURNING rule_id::text",
            (name,),
        ).fetchone()
    assert row is not None
    return str(row[0])


def declines(count: int, rule_id: str, at: datetime) -> list[Decision]:
    """DECLINEs that fired ``rule_id``, with a reason code, their transactions at ``at``."""
    hit = (RuleHit(rule_id=rule_id, version=1, action="DECLINE"),)
    reason = (ReasonCode(feature="amount_zscore", value=4.2, contribution=0.31),)
    made = [
        decision(transaction(f"acct-{uuid.uuid4().hex[:8]}", "950.00", at=at), Outcome.DECLINE)
        for _ in range(count)
    ]
    return [replace(d, rules_fired=hit, reason_codes=reason) for d in made]


def total(fragment: str) -> int:
    found = re.search(r'<dd id="total">(\d+)</dd>', fragment)
    assert found is not None, fragment
    return int(found.group(1))


def lag_of(fragment: str, stage: str) -> str:
    found = re.search(
        rf"<td>{stage}</td><td><code>[^<]*</code></td><td class=\"num\">([^<]*)</td>", fragment
    )
    assert found is not None, fragment
    return found.group(1)


def test_the_stream_pushes_the_ledgers_figures_rules_declines_and_chart(
    client: httpx.Client, api_db: str, make_user: Callable[[str], str]
) -> None:
    rule_id = named_rule(api_db, f"Card testing {uuid.uuid4().hex[:6]}")
    at = datetime.now(UTC) - timedelta(minutes=2)
    approved = [decision(transaction(f"acct-{n}", at=at)) for n in range(9)]
    made = declines(3, rule_id, at)
    write_ledger(api_db, approved + made)
    assert sign_in(client, make_user("viewer")).status_code == 303
    with client.stream("GET", STREAM, headers=EVENTS) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = sse_events(stream)
        figures = next_event(events, "figures")
        chart = json.loads(next_event(events, "chart"))
    assert total(figures) >= 12
    assert "Card testing" in figures and rule_id not in figures  # by name, not id
    for d in made:
        assert d.transaction_id[:8] in figures
    assert "amount_zscore (+0.31)" in figures and "950.0000 EUR" in figures
    assert len(chart["x"]) == 15 and chart["x"] == sorted(chart["x"])
    assert round(sum(chart["rate"]) * 60) == total(figures)  # same decisions, same minutes
    assert any(p == 12.0 for p in chart["p99"])  # the writer's decisions take 12 ms


def test_the_page_updates_without_a_reload_when_decisions_arrive(
    client: httpx.Client, api_db: str, make_user: Callable[[str], str]
) -> None:
    assert sign_in(client, make_user("viewer")).status_code == 303
    with client.stream("GET", STREAM, headers=EVENTS) as stream:
        events = sse_events(stream)
        before = total(next_event(events, "figures"))
        at = datetime.now(UTC) - timedelta(minutes=2)
        write_ledger(api_db, [decision(transaction(f"acct-{n}", at=at)) for n in range(5)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if total(next_event(events, "figures")) == before + 5:
                break
        else:
            pytest.fail("the stream never showed the five new decisions")


def test_lag_comes_from_the_pipelines_group_and_the_console_commits_nothing(
    client: httpx.Client, topic_prefix: str, make_user: Callable[[str], str]
) -> None:
    kafka = KafkaConnection()
    topic, group = f"{topic_prefix}decisions", f"{topic_prefix}ledger-sink"
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers, "acks": "all"})
    for n in range(7):
        producer.produce(topic, b"not read", f"k{n}".encode(), partition=0)
    assert producer.flush(10) == 0
    # As the ledger sink would after reading two records of partition 0.
    sink = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": group})
    try:
        sink.commit(offsets=[TopicPartition(topic, 0, 2)], asynchronous=False)
        assert sign_in(client, make_user("viewer")).status_code == 303
        with client.stream("GET", STREAM, headers=EVENTS) as stream:
            events = sse_events(stream)
            shown = [lag_of(next_event(events, "figures"), "ledger sink") for _ in range(3)]
        assert "5" in shown, shown  # the first push may come before Kafka's answer
        assert lag_of(client.get("/console/overview/figures").text, "agents") == "-"
        committed = sink.committed([TopicPartition(topic, 0)], timeout=10)
        assert committed[0].offset == 2  # the console read the group's offsets, moved none
    finally:
        sink.close()


def test_an_event_stream_without_a_session_gets_401(client: httpx.Client) -> None:
    assert client.get(STREAM, headers=EVENTS).status_code == 401
    assert client.get(STREAM).status_code == 401  # a stream's URL is never a page


def test_signing_out_ends_the_stream_with_an_end_event(
    client: httpx.Client, make_user: Callable[[str], str]
) -> None:
    assert sign_in(client, make_user("viewer")).status_code == 303
    token = page_token(client)
    with client.stream("GET", STREAM, headers=EVENTS) as stream:
        events = sse_events(stream)
        next_event(events, "figures")
        with httpx.Client(base_url=str(client.base_url), cookies=client.cookies) as other:
            assert other.post("/console/signout", data={"csrf_token": token}).status_code == 303
        assert next_event(events, "end") == "the session has ended"
        assert list(events) == []  # and the server closed the stream


def test_open_streams_hold_no_pooled_connection_and_stop_with_their_client(
    client: httpx.Client, api_db: str, make_user: Callable[[str], str]
) -> None:
    assert sign_in(client, make_user("viewer")).status_code == 303
    # Twice the console's pool (SENTINEL_CONSOLE_POOL_MAX, 4): each push borrows one.
    with ExitStack() as open_streams:
        streams = [
            sse_events(open_streams.enter_context(client.stream("GET", STREAM, headers=EVENTS)))
            for _ in range(8)
        ]
        for round_ in range(2):
            for events in streams:
                assert total(next_event(events, "figures")) >= 0, round_
        assert client.get("/console/").status_code == 200  # a page still gets a connection
    gone = datetime.now(UTC)
    time.sleep(3)  # three pushes' time
    with psycopg.connect(api_db) as conn:
        latest = conn.execute(
            "SELECT max(state_change) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            "   AND query LIKE %s",
            ("%percentile_cont(0.99)%",),
        ).fetchone()
    # The console's last Overview query ran before the clients left (+ one push in flight).
    assert latest is not None and latest[0] is not None
    assert latest[0] < gone + timedelta(seconds=1.5)
