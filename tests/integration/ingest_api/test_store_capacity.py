"""The idempotency store against the real Redis: what an entry costs, and its fill level on
the API's /metrics."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import redis
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from ingest_api.idempotency import IdempotencyStore, StoredResponse, body_fingerprint
from ingest_api.ingest import decision_url
from ingest_api.models import Accepted
from ingest_api.store_capacity import ENTRY_BYTES
from schemas.connections import RedisConnection
from tests.support.api import headers, transaction

pytestmark = pytest.mark.integration


@pytest.fixture
async def store() -> AsyncIterator[IdempotencyStore]:
    client = aioredis.Redis.from_url(RedisConnection().url.get_secret_value())
    yield IdempotencyStore(client, ttl_s=300, lock_s=30)
    await client.aclose()


async def test_an_accepted_transaction_costs_the_bytes_the_sizing_assumes(
    store: IdempotencyStore, unique: str
) -> None:
    tid = f"tx_{uuid.uuid4().hex}"
    body = Accepted(transaction_id=tid, decision_url=decision_url(tid)).model_dump_json().encode()
    rkey = store.redis_key(f"test-{unique}", str(uuid.uuid4()))
    fp = body_fingerprint(b"/v1/transactions\n" + body)
    try:
        assert await store.claim(rkey, fp) is None
        await store.complete(rkey, fp, StoredResponse(202, body))
        assert await store.claim(rkey, fp) == StoredResponse(202, body)  # a retry's answer
        # The entry as JSON under the ids in clear took 440 bytes.
        used = await store.client.memory_usage(rkey, samples=0)
        assert used is not None and used <= ENTRY_BYTES
        assert 0 < await store.client.ttl(rkey) <= 300
    finally:
        await store.client.delete(rkey)


def _gauges(url: str) -> dict[str, float]:
    text = httpx.get(f"{url}/metrics").text
    prefix = "sentinel_api_idempotency_store_"
    return {
        sample.name.removeprefix(prefix): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith(prefix)
    }


def test_metrics_report_the_store_fill_level(
    api_url: str, ingest_key: str, redis_client: redis.Redis
) -> None:
    sent = headers(ingest_key)
    tx = transaction()
    first = httpx.post(f"{api_url}/v1/transactions", json=tx, headers=sent)
    again = httpx.post(f"{api_url}/v1/transactions", json=tx, headers=sent)
    assert first.status_code == again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true" and again.content == first.content

    gauges = _gauges(api_url)
    memory = redis_client.info("memory")
    ceiling = int(memory["maxmemory"]) or int(memory["total_system_memory"])
    assert gauges["max_bytes"] == ceiling
    # Read at the scrape: within a few MB of what Redis says now (other suites write too).
    assert abs(gauges["used_bytes"] - int(memory["used_memory"])) < 16 << 20
    assert gauges["fill_ratio"] == pytest.approx(gauges["used_bytes"] / ceiling)
    assert 1 <= gauges["keys"] <= int(redis_client.dbsize()) + 10_000
    assert gauges["near_full"] == (1 if gauges["fill_ratio"] >= 0.8 else 0)
