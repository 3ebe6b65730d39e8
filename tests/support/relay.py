"""The rules outbox relay for suites that save rules and expect them on the rules topic: a
real `sentinel rules relay` process on the module's database and topics, and a wait for a
rule's version to reach the topic (the relay's latency, never asserted)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.codec import decode_rule
from schemas.records import Rule
from schemas.topics import RULES
from tests.integration.ledger_sink.support import read_all
from tests.support.api import SENTINEL, stop_process


def start_relay(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`sentinel rules relay` under ``env``; returns once it listens for committed versions."""
    with log.open("wb") as out:
        proc = subprocess.Popen([SENTINEL, "rules", "relay"], env=env, stdout=out, stderr=out)  # noqa: S603
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the relay exited with {proc.returncode}: {log.read_text()[-3000:]}")
        if '"relaying"' in log.read_text():
            return proc
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"the relay never started: {log.read_text()[-3000:]}")


stop_relay = stop_process


@pytest.fixture(scope="module")
def rules_relay(
    api_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """A relay on the module's database and topics for as long as the module runs."""
    proc = start_relay(api_env, tmp_path_factory.mktemp("relay") / "relay.log")
    yield
    stop_relay(proc)


def rule_records(prefix: str, rule_id: str) -> list[Rule]:
    """Every record of ``rule_id`` on ``prefix``'s rules topic, in order."""
    records = read_all(f"{prefix}{RULES.name}")
    return [decode_rule(r.value) for r in records if r.key == rule_id.encode()]


def await_rule(prefix: str, rule_id: str, version: int, timeout_s: float = 30) -> list[Rule]:
    """The rule's records once its ``version`` (or a newer one) is on the topic."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = rule_records(prefix, rule_id)
        if found and found[-1].version >= version:
            return found
        if time.monotonic() > deadline:
            seen = [r.version for r in found]
            raise AssertionError(f"rule {rule_id} v{version} not on the topic: {seen}")
        time.sleep(0.1)


def in_order(records: list[Rule]) -> list[int]:
    """The versions on the topic, checked never to go back (the relay's promise)."""
    versions = [r.version for r in records]
    assert versions == sorted(versions), versions
    return versions
