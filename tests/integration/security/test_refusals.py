"""A service whose principal the brokers refuse says so: the API's readiness and its 503
name the refusal, the sink stops at once with the message, each logs it once (librdkafka
retries every second or so)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.agents import SENTINEL
from tests.support.api import headers, start_api, stop_api, transaction
from tests.support.e2e import eventually
from tests.support.security import SecureStack, secured

pytestmark = pytest.mark.integration

WHY = "SCRAM authentication failed (wrong password?)"


@pytest.fixture(scope="module")
def stack(topic_prefix: str) -> Iterator[SecureStack]:
    with secured(topic_prefix) as secure:
        yield secure


def _message(stack: SecureStack, principal: str) -> str:
    where = stack.connection(principal).bootstrap_servers  # every node's SASL_SSL listener
    return f"Kafka refused principal {principal!r} at {where}: {WHY}"


def test_the_api_with_a_wrong_password_is_not_ready_and_answers_kafka_refused(
    stack: SecureStack,
    api_env: dict[str, str],
    make_key: Callable[..., str],
    tmp_path: Path,
) -> None:
    env = {**api_env, **stack.service_env("api", password="wrong")}
    log = tmp_path / "api.log"
    proc, url = start_api(env, log, ready="/healthz")
    try:

        def refused() -> dict[str, Any] | None:
            answer = httpx.get(f"{url}/readyz", timeout=5)
            return answer.json() if "problems" in answer.json() else None

        ready = eventually(refused)
        assert ready["ready"] is False and ready["checks"]["kafka"] is False
        assert ready["problems"] == {"kafka": f"Kafka refuses this service: {WHY}"}
        key = make_key("ingest,read")
        posted = httpx.post(
            f"{url}/v1/transactions", json=transaction(), headers=headers(key), timeout=10
        )
        assert posted.status_code == 503
        assert posted.json()["code"] == "kafka_refused"
    finally:
        stop_api(proc)
    # Once per client (the producer and the decision waiter's consumer), not per retry.
    assert 1 <= log.read_text().count(_message(stack, "api")) <= 2, log.read_text()[-3000:]


def test_the_sink_with_a_wrong_password_stops_at_once_with_the_message(
    stack: SecureStack, api_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**api_env, **stack.service_env("sink", password="wrong")}
    done = subprocess.run(  # noqa: S603 - our own CLI
        [SENTINEL, "sink", "run"], env=env, capture_output=True, text=True, timeout=120
    )
    output = done.stdout + done.stderr
    assert done.returncode == 3, output[-3000:]
    assert f"stopped: {_message(stack, 'sink')}" in " ".join(output.split())
