"""The rules outbox relay on the real PostgreSQL and Kafka: a committed version reaches the
topic; a relay killed between Kafka's acknowledgement and its record republishes once and
never an older version over a newer one; two relays at once publish each version once, in
order."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import psycopg
import pytest

from reference_store import rules_repo
from reference_store.relay.relay import KafkaSend, publish_pending
from reference_store.rules_repo import RuleVersion
from schemas.codec import decode_rule, encode_rule
from schemas.connections import KafkaConnection
from schemas.records import Rule
from tests.support.relay import await_rule, in_order, rule_records, start_relay, stop_relay

pytestmark = pytest.mark.integration


async def _create(dsn: str, name: str) -> RuleVersion:
    draft = rules_repo.draft(
        name=name,
        description="",
        expression="amount > 5000",
        action="REVIEW",
        priority=0,
        mode="shadow",
        author="test",
    )
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        return await rules_repo.create(conn, draft)


async def _change(dsn: str, rule_id: str, priority: int) -> RuleVersion:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        saved = await rules_repo.change(conn, rule_id, {"priority": priority}, "test", "update")
    assert saved is not None
    return saved


def create(dsn: str) -> RuleVersion:
    return asyncio.run(_create(dsn, f"r-{uuid.uuid4().hex[:8]}"))


def change(dsn: str, rule_id: str, priority: int) -> RuleVersion:
    return asyncio.run(_change(dsn, rule_id, priority))


def one_pass(dsn: str, prefix: str) -> list[tuple[str, int]]:
    """One relay pass in this process; the versions it published."""

    async def run() -> list[tuple[str, int]]:
        send = KafkaSend(KafkaConnection(topic_prefix=prefix), 10)
        try:
            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                found = await publish_pending(conn, send)
        finally:
            send.close()
        return [(v.rule_id, v.version) for v in found.publish]

    return asyncio.run(run())


def recorded(dsn: str, rule_id: str) -> list[int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT version FROM rule_publications WHERE rule_id = %s ORDER BY version",
            (rule_id,),
        ).fetchall()
    return [v for (v,) in rows]


# A pass whose send acknowledges on Kafka and then kills the process, as a crash between
# the produce and the publication record would: no rollback, no clean close.
DIE_AFTER_SEND = textwrap.dedent(
    """
    import asyncio, os, sys
    import psycopg
    from reference_store.relay.relay import KafkaSend, publish_pending
    from schemas.connections import KafkaConnection

    async def main(dsn, prefix):
        send = KafkaSend(KafkaConnection(topic_prefix=prefix), 10)

        async def send_then_die(versions):
            await send(versions)
            os._exit(9)

        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            await publish_pending(conn, send_then_die)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def on_wire(version: RuleVersion) -> Rule:
    """``version``'s record as the topic carries it (timestamps in milliseconds)."""
    return decode_rule(encode_rule(version.record()))


def killed_after_send(dsn: str, prefix: str) -> None:
    done = subprocess.run(  # noqa: S603 - this interpreter, our own snippet
        [sys.executable, "-c", DIE_AFTER_SEND, dsn, prefix], capture_output=True, timeout=60
    )
    assert done.returncode == 9, done.stderr.decode()[-2000:]


def test_a_committed_version_reaches_the_topic_and_is_recorded(
    api_env: dict[str, str], api_db: str, topic_prefix: str, tmp_path: Path
) -> None:
    relay = start_relay(api_env, tmp_path / "relay.log")
    try:
        saved = create(api_db)
        (record,) = await_rule(topic_prefix, saved.rule_id, 1)
        assert record == on_wire(saved)
        changed = change(api_db, saved.rule_id, 7)
        records = await_rule(topic_prefix, saved.rule_id, 2)
        assert in_order(records) == [1, 2] and records[-1] == on_wire(changed)
    finally:
        stop_relay(relay)
    assert recorded(api_db, saved.rule_id) == [1, 2]


def test_a_relay_killed_before_its_record_republishes_once(api_db: str, topic_prefix: str) -> None:
    saved = create(api_db)
    killed_after_send(api_db, topic_prefix)
    assert [r.version for r in rule_records(topic_prefix, saved.rule_id)] == [1]
    assert recorded(api_db, saved.rule_id) == []  # the kill came before the record
    assert (saved.rule_id, 1) in one_pass(api_db, topic_prefix)  # at least once: again
    assert (saved.rule_id, 1) not in one_pass(api_db, topic_prefix)  # and then no more
    assert [r.version for r in rule_records(topic_prefix, saved.rule_id)] == [1, 1]
    assert recorded(api_db, saved.rule_id) == [1]


def test_a_version_superseded_while_the_relay_was_down_is_never_published_after_it(
    api_db: str, topic_prefix: str
) -> None:
    saved = create(api_db)
    killed_after_send(api_db, topic_prefix)  # v1 on the topic, unrecorded
    change(api_db, saved.rule_id, 1)
    change(api_db, saved.rule_id, 2)
    published = [p for p in one_pass(api_db, topic_prefix) if p[0] == saved.rule_id]
    assert published == [(saved.rule_id, 3)]  # v1 and v2 superseded: not sent again
    assert in_order(rule_records(topic_prefix, saved.rule_id)) == [1, 3]
    assert recorded(api_db, saved.rule_id) == [3]


def test_two_relays_at_once_publish_every_rule_in_order_each_version_once(
    api_env: dict[str, str], api_db: str, topic_prefix: str, tmp_path: Path
) -> None:
    relays = [start_relay(api_env, tmp_path / f"relay-{n}.log") for n in (1, 2)]
    try:
        rules = [create(api_db) for _ in range(3)]
        for priority in range(1, 6):
            for rule in rules:
                change(api_db, rule.rule_id, priority)
        for rule in rules:
            await_rule(topic_prefix, rule.rule_id, 6)
    finally:
        for relay in relays:
            stop_relay(relay)
    for rule in rules:
        versions = in_order(rule_records(topic_prefix, rule.rule_id))
        assert versions[-1] == 6
        assert len(versions) == len(set(versions)), versions  # the lock: no pass twice
        assert recorded(api_db, rule.rule_id) == versions
    logs = [(tmp_path / f"relay-{n}.log").read_text() for n in (1, 2)]
    assert all('"relaying"' in log for log in logs)
