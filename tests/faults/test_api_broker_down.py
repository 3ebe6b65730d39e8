"""The API against a private broker that is stopped and restarted: 503 while it is down,
never a 2xx for a transaction that is not in Kafka, and service again once it is back."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from deploy.local.kafka import KafkaService
from deploy.local.process import wait_until
from deploy.topics import TopicAdmin, apply
from schemas.connections import KafkaConnection
from schemas.topics import declared_topics
from tests.support.api import (
    PEPPER,
    headers,
    read_transactions,
    start_api,
    stop_api,
    transaction,
)
from tests.support.private_kafka import private_kafka_settings

pytestmark = [pytest.mark.faults, pytest.mark.slow]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[KafkaService]:
    settings = private_kafka_settings(tmp_path / "stack")
    service = KafkaService(settings)
    service.prepare()
    service.start()
    assert wait_until(service.answers, 90), "private broker did not start"
    yield service
    service.stop()


def test_broker_down_means_503_never_2xx_and_recovery_after(
    broker: KafkaService, api_db: str, make_key: Callable[..., str], tmp_path: Path
) -> None:
    bootstrap = broker.address
    apply(TopicAdmin(KafkaConnection(bootstrap_servers=bootstrap)), declared_topics("t."))
    env = {
        **os.environ,
        "SENTINEL_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SENTINEL_KAFKA_TOPIC_PREFIX": "t.",
        "SENTINEL_POSTGRES_DSN": api_db,
        "SENTINEL_API_API_KEY_PEPPER": PEPPER,
        "SENTINEL_API_PRODUCE_TIMEOUT_MS": "2000",
    }
    proc, url = start_api(env, tmp_path / "api.log")
    key = make_key("ingest")
    accepted: list[str] = []
    try:

        def post() -> httpx.Response:
            body = transaction()
            response = httpx.post(
                f"{url}/v1/transactions", json=body, headers=headers(key), timeout=10
            )
            if response.status_code == 202:
                accepted.append(body["transaction_id"])
            return response

        assert post().status_code == 202
        broker.stop()
        refused = [post() for _ in range(5)]
        assert [r.status_code for r in refused] == [503] * 5
        assert all(int(r.headers["Retry-After"]) >= 1 for r in refused)
        assert refused[-1].json()["code"] == "unavailable"

        broker.start()
        assert wait_until(broker.answers, 90)
        deadline = time.monotonic() + 60
        while post().status_code != 202 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert post().status_code == 202
    finally:
        stop_api(proc)

    seen = {t.transaction_id for t in read_transactions("t.", settle_s=2, bootstrap=bootstrap)}
    assert set(accepted) <= seen
