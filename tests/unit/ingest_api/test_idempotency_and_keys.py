"""Idempotency-key shape, key hashing and rate-limit quotas (no services)."""

from __future__ import annotations

import pytest
from redis.exceptions import RedisError

from ingest_api.errors import IdempotencyKeyMissing
from ingest_api.idempotency import IdempotencyStore, StoredResponse, body_fingerprint, check_key
from ingest_api.keys import KEY_PREFIX, display_prefix, generate_key, hash_key
from ingest_api.ratelimit import Quota


def test_idempotency_key_is_required_and_visible_ascii() -> None:
    assert check_key("order-42") == "order-42"
    for bad in (None, "", "has space", "x" * 256, "ключ"):
        with pytest.raises(IdempotencyKeyMissing):
            check_key(bad)


def test_fingerprint_distinguishes_bodies() -> None:
    assert body_fingerprint(b"a") == body_fingerprint(b"a") != body_fingerprint(b"b")


def test_keys_are_random_and_hashed_with_the_pepper() -> None:
    one, two = generate_key(), generate_key()
    assert one != two and one.startswith(KEY_PREFIX) and len(one) > 40
    assert hash_key(one, "p1") == hash_key(one, "p1") != hash_key(one, "p2")
    assert display_prefix(one) == one[3:11]


def test_quota_has_a_burst_and_a_sustained_window() -> None:
    burst, sustained = Quota(per_second=10, burst=25).items()
    assert (burst.amount, burst.get_expiry()) == (25, 1)
    assert (sustained.amount, sustained.get_expiry()) == (600, 60)


class _FullRedis:
    """Answers every write as a Redis at maxmemory with noeviction does."""

    async def set(self, *_args: object, **_kwargs: object) -> None:
        raise RedisError("OOM command not allowed when used memory > 'maxmemory'")


async def test_a_published_transaction_is_not_turned_into_a_5xx_by_a_full_store(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # complete() runs after the broker acknowledged the transaction: it must not raise.
    store = IdempotencyStore(_FullRedis(), ttl_s=60, lock_s=5)  # type: ignore[arg-type]
    await store.complete(b"k", b"f" * 16, StoredResponse(202, b"{}"))
    assert "not completed" in caplog.text
