"""The admission round trip against the real Redis: both rate-limit windows, the
Idempotency-Key claim and the transaction id claims in one script, with the semantics of the
separate calls it replaced; and the API's answers around it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import orjson
import psutil
import pytest
import redis
import redis.asyncio as aioredis
from limits import RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from ingest_api.admission import Admission, Claims
from ingest_api.errors import RateLimited
from ingest_api.idempotency import IdempotencyStore, body_fingerprint
from ingest_api.ratelimit import Quota, RateLimiter
from schemas.connections import RedisConnection
from schemas.transaction_claims import claim_key
from tests.support.api import headers, redis_ports, transaction

pytestmark = pytest.mark.integration

URL = RedisConnection().url.get_secret_value()


@pytest.fixture
async def client() -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.Redis.from_url(URL)
    yield redis
    await redis.aclose()


def _library(client: aioredis.Redis) -> SlidingWindowCounterRateLimiter:
    """``limits`` itself, reading the windows (on the fixture's connections, closed with it)."""
    uri = URL.replace("redis://", "async+redis://", 1)
    pool = client.connection_pool
    return SlidingWindowCounterRateLimiter(
        RedisStorage(uri, implementation="redispy", connection_pool=pool)
    )


def _key_id() -> str:
    return f"test-admission-{uuid.uuid4().hex}"


def _claims(store: IdempotencyStore, ids: list[tuple[str, str]]) -> Claims:
    rkey = store.redis_key(_key_id(), str(uuid.uuid4()))
    claims = store.claims(rkey, body_fingerprint(b"body"))
    return Claims(claims.key, claims.pending, claims.lock_s, ids, 60)


async def test_the_script_counts_in_the_windows_limits_reads(client: aioredis.Redis) -> None:
    limiter, key_id = RateLimiter(URL, Admission(client), client), _key_id()
    quota = Quota(per_second=100, burst=5)
    await limiter.hit(key_id, quota, cost=2)
    library = _library(client)
    burst = RateLimitItemPerSecond(5, 1)
    assert (await library.get_window_stats(burst, key_id)).remaining == 3
    assert await library.hit(burst, key_id, cost=3)  # the library counts on top of it
    with pytest.raises(RateLimited) as refused:
        await limiter.hit(key_id, quota)
    assert refused.value.headers is not None
    assert refused.value.headers["RateLimit-Limit"] == "5"
    assert refused.value.headers["RateLimit-Remaining"] == "0"
    assert int(refused.value.headers["Retry-After"]) >= 1
    assert refused.value.details == {"limit": "5 per 1 second", "retry_after_s": 1}


async def test_a_refused_window_claims_nothing(client: aioredis.Redis) -> None:
    admission, store = Admission(client), IdempotencyStore(client, ttl_s=60, lock_s=5)
    windows = [w for _item, w in RateLimiter.windows(_key_id(), Quota(1, 2), cost=3)]
    tid = f"tx_{uuid.uuid4().hex}"
    claims = _claims(store, [(tid, "a" * 32)])
    admitted = await admission(windows, claims)
    assert admitted.refused == 0  # the burst window, as the first of the separate calls
    assert await client.exists(claims.key, claim_key(tid)) == 0


async def test_the_burst_stays_counted_when_the_sustained_window_refuses(
    client: aioredis.Redis,
) -> None:
    admission, key_id = Admission(client), _key_id()
    windows = [w for _item, w in RateLimiter.windows(key_id, Quota(per_second=1, burst=100), 40)]
    assert (await admission(windows)).refused is None
    assert (await admission(windows)).refused == 1  # 80 > 60 a minute; 80 <= 100 a second
    library = _library(client)
    stats = await library.get_window_stats(RateLimitItemPerSecond(100, 1), key_id)
    assert stats.remaining == 20  # counted twice, as the separate hits did


async def test_ids_are_claimed_only_with_a_free_key(client: aioredis.Redis) -> None:
    admission, store = Admission(client), IdempotencyStore(client, ttl_s=60, lock_s=5)
    first, second = f"tx_{uuid.uuid4().hex}", f"tx_{uuid.uuid4().hex}"
    claims = _claims(store, [(first, "a" * 32), (second, "b" * 32)])
    admitted = await admission([], claims)
    assert (admitted.refused, admitted.entry, admitted.ids) == (None, None, [None, None])
    assert await client.get(claim_key(first)) == b"a" * 32
    assert 0 < await client.ttl(claims.key) <= 5
    third = f"tx_{uuid.uuid4().hex}"
    again = await admission([], Claims(claims.key, claims.pending, 5, [(third, "c" * 32)], 60))
    assert again.entry == claims.pending  # in flight: the store's replay_of says 409
    assert again.ids is None
    assert await client.exists(claim_key(third)) == 0


async def test_an_id_held_by_other_content_is_reported(client: aioredis.Redis) -> None:
    admission, store = Admission(client), IdempotencyStore(client, ttl_s=60, lock_s=5)
    tid = f"tx_{uuid.uuid4().hex}"
    await client.set(claim_key(tid), "f" * 32, ex=60)
    admitted = await admission([], _claims(store, [(tid, "a" * 32)]))
    assert admitted.ids == ["f" * 32]
    assert await client.get(claim_key(tid)) == b"f" * 32  # the first claim wins


async def test_concurrent_admissions_of_one_key_let_exactly_one_in(
    client: aioredis.Redis,
) -> None:
    admission, store = Admission(client), IdempotencyStore(client, ttl_s=60, lock_s=5)
    claims = _claims(store, [(f"tx_{uuid.uuid4().hex}", "a" * 32)])
    results = await asyncio.gather(*(admission([], claims) for _ in range(30)))
    assert sum(1 for r in results if r.entry is None) == 1


def test_a_rate_limited_batch_keeps_its_429_and_claims_nothing(
    api_url: str, make_key: Callable[..., str]
) -> None:
    key = make_key("ingest", rate=1, burst=3)
    sent = headers(key)
    batch = {"transactions": [transaction() for _ in range(5)]}
    url = f"{api_url}/v1/transactions/batch"
    refused = httpx.post(url, json=batch, headers=sent)
    assert refused.status_code == 429
    assert refused.json() == {
        "code": "rate_limited",
        "message": "rate limit exceeded for this API key (limit 3 per 1 second)",
        "details": {"limit": "3 per 1 second", "retry_after_s": 1},
    }
    assert refused.headers["RateLimit-Limit"] == "3"
    assert refused.headers["RateLimit-Remaining"] == "2"  # the dependency counted one
    assert refused.headers["Retry-After"] == refused.headers["RateLimit-Reset"] == "1"
    # The key was not claimed: in the next second, the same key with a batch that fits
    # goes through (a claimed key would answer 409 in flight or 422 reused).
    small = {"transactions": batch["transactions"][:2]}
    for _ in range(40):
        answer = httpx.post(url, json=small, headers=sent)
        if answer.status_code != 429:
            break
        time.sleep(0.1)
    assert answer.status_code == 202
    assert answer.json()["accepted"] == 2


def test_a_replay_answers_the_stored_response(api_url: str, ingest_key: str) -> None:
    sent = headers(ingest_key)
    batch = {"transactions": [transaction(), transaction()]}
    url = f"{api_url}/v1/transactions/batch"
    first = httpx.post(url, json=batch, headers=sent)
    again = httpx.post(url, json=batch, headers=sent)
    assert first.status_code == again.status_code == 202
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"


def _api_connections(api_url: str) -> set[int]:
    """The local ports of the API process's connections to Redis."""
    port = int(api_url.rsplit(":", 1)[1])
    redis_port = aioredis.Redis.from_url(URL).connection_pool.connection_kwargs["port"]
    server = next(
        psutil.Process(c.pid)
        for c in psutil.net_connections("tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port and c.pid
    )
    return redis_ports(server, redis_port)


def test_a_single_request_costs_two_round_trips(api_url: str, ingest_key: str) -> None:
    # The count against the key's windows, the Idempotency-Key and transaction id claims
    # in one script, then the completion: MONITOR over the API's own connections. (This
    # module's API caches no key, so each request also checks its address's failed
    # authentications, a key cache miss's round trip: left out.)
    url = f"{api_url}/v1/transactions"
    httpx.post(url, json=transaction(), headers=headers(ingest_key)).raise_for_status()  # warm
    client = redis.Redis.from_url(URL)
    ours, end, commands = _api_connections(api_url), f"monitor-end-{uuid.uuid4().hex}", []
    with client.monitor() as monitor:  # type: ignore[no-untyped-call]
        for _ in range(5):
            sent = httpx.post(url, json=transaction(), headers=headers(ingest_key))
            assert sent.status_code == 202
        client.echo(end)
        for command in monitor.listen():
            text = command["command"]
            if end in text:
                break
            if int(command.get("client_port") or 0) in ours and "auth-failures" not in text:
                commands.append(text.split(" ", 1)[0].upper())
    client.close()
    assert sorted(commands) == ["EVALSHA"] * 5 + ["SET"] * 5  # admission, completion


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/transactions", b'{"amount": ', 422),  # not JSON
        ("/v1/authorize?deadline_ms=soon", None, 422),  # a parameter FastAPI refuses
        ("/v1/transactions", None, 400),  # no Idempotency-Key
    ],
)
def test_a_failed_single_request_is_counted_and_a_429_comes_first(
    api_url: str, make_key: Callable[..., str], path: str, body: bytes | None, status: int
) -> None:
    # Counted with its admission when it gets that far; otherwise on the way out, where the
    # key's exhausted window answers before the failure, as when the count came first.
    key = make_key("ingest", rate=1, burst=2)
    sent = headers(key)
    if status == 400:
        del sent["Idempotency-Key"]
    content = body if body is not None else orjson.dumps(transaction())
    answers = [httpx.post(f"{api_url}{path}", content=content, headers=sent) for _ in range(3)]
    assert [a.status_code for a in answers] == [status, status, 429]
    assert answers[2].headers["RateLimit-Limit"] == "2"
    # The failures counted: a valid request in the same second is refused too.
    valid = httpx.post(f"{api_url}/v1/transactions", json=transaction(), headers=headers(key))
    assert valid.status_code == 429
