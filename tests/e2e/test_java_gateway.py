"""The Java example gateway (examples/java-gateway), built with Maven and run against the
stack and a real agent worker: what it prints is what the pipeline decided, its record sits
where the pipeline's own producers would put its account, and a record the agents refuse
comes back to it as a clear reason (docs/schema-contract.md)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from schemas.records import Decision, decision_id_for
from schemas.topics import DECISIONS, HEADER_TRANSACTION_ID, TRANSACTIONS
from tests.support.agents import Workers, read_topic, wait_for_decisions

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

GATEWAY = Path(__file__).resolve().parents[2] / "examples" / "java-gateway"
JAR = GATEWAY / "target" / "sentinel-java-gateway.jar"
# Exit codes of the gateway's Main: decided, refused (dead-lettered).
DECIDED, REFUSED = 0, 3


@pytest.fixture(scope="module")
def gateway_jar() -> Path:
    """The gateway's jar, built by ``mvn -q -B package`` (dependencies from Maven Central,
    cached in ~/.m2)."""
    missing = [tool for tool in ("mvn", "java") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not on PATH: the Java gateway cannot be built")
    build = subprocess.run(
        ["mvn", "-q", "-B", "package"], cwd=GATEWAY, capture_output=True, text=True, timeout=900
    )
    if build.returncode != 0:
        pytest.fail(f"mvn package failed ({build.returncode}):\n{build.stdout[-4000:]}")
    return JAR


def run_gateway(jar: Path, prefix: str, *options: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SENTINEL_KAFKA_TOPIC_PREFIX": prefix}
    command = ["java", "-jar", str(jar), "--timeout-s", "120", *options]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)


def partition_of(prefix: str, topic: str, transaction_id: str) -> int:
    """The partition of ``topic`` holding the record whose transaction-id header is
    ``transaction_id`` (the header every decision carries)."""
    for message in read_topic(f"{prefix}{topic}"):
        headers = dict(message.headers() or [])
        partition = message.partition()
        if headers.get(HEADER_TRANSACTION_ID) == transaction_id.encode() and partition is not None:
            return partition
    raise AssertionError(f"no record of {transaction_id} on {topic}")


def produced_partition(stderr: str, prefix: str) -> int:
    """``produced <id> to <topic>-<partition>@<offset>``, the gateway's line on stderr."""
    line = next(line for line in stderr.splitlines() if line.startswith("produced "))
    where = line.rsplit(" to ", 1)[1].removeprefix(f"{prefix}{TRANSACTIONS.name}-")
    return int(where.split("@", 1)[0])


def assert_printed_is(printed: dict[str, object], decision: Decision) -> None:
    assert printed["decision_id"] == decision.decision_id
    assert printed["outcome"] == decision.outcome.value
    assert printed["risk_score"] == decision.risk_score
    assert printed["model_version"] == decision.model_version
    assert printed["rules_fired"] == [dataclasses.asdict(hit) for hit in decision.rules_fired]
    # As JSON text, so that a feature value of NaN compares equal to itself.
    reasons = [dataclasses.asdict(r) for r in decision.reason_codes]
    assert json.dumps(printed["reason_codes"]) == json.dumps(reasons)


def test_java_gateway_gets_the_pipelines_decision_and_hears_of_a_refusal(
    gateway_jar: Path, agents: tuple[str, Workers], unique: str
) -> None:
    # One test for both answers: each needs a worker and a model, the slow part here.
    prefix, workers = agents
    workers.start()
    tid, account = str(uuid.uuid4()), f"acct-java-{unique}"
    run = run_gateway(
        gateway_jar, prefix, "--transaction-id", tid, "--account-id", account,
        "--amount", "42.50", "--currency", "INR", "--merchant-id", "m-java", "--country", "IN",
    )  # fmt: skip
    assert run.returncode == DECIDED, run.stderr
    printed = json.loads(run.stdout)
    # A redelivery may publish a decision twice: the same one, under one decision id.
    decisions = [d for d in wait_for_decisions(prefix, {tid}) if d.transaction_id == tid]
    assert {d.decision_id for d in decisions} == {decision_id_for(tid)}
    decision = decisions[0]
    assert_printed_is(printed, decision)
    # The agents read the Java's Avro as it was meant, amount and key included ...
    assert (decision.account_id, decision.transaction.amount) == (account, Decimal("42.5"))
    # ... and its default partitioner (murmur2) put the account where librdkafka's
    # murmur2_random puts the account's decision.
    assert produced_partition(run.stderr, prefix) == partition_of(prefix, DECISIONS.name, tid)

    refused = run_gateway(
        gateway_jar, prefix, "--account-id", account, "--amount", "1.5", "--currency", "JPY"
    )
    assert refused.returncode == REFUSED, refused.stderr
    assert "refused: invalid_transaction: amount has 1 decimals; JPY allows 0" in refused.stderr
