"""The key shape check, the key cache's LRU eviction, expiry, batched usage (no services)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ingest_api.auth import LruTtlCache, well_formed
from ingest_api.key_usage import UsageRecorder
from ingest_api.keys import ApiKey, Scope, generate_key


def _key(name: str) -> ApiKey:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    return ApiKey(name, name, "prefix00", frozenset({Scope.READ}), None, None, created, None)


def test_only_secrets_shaped_like_issued_keys_are_well_formed() -> None:
    assert all(well_formed(generate_key()) for _ in range(200))
    key = generate_key()
    for bad in ("", "sk_", "sk_not-a-real-key", key + "A", key[:-1], key[:-1] + "=", key[3:]):
        assert not well_formed(bad), bad
    assert not well_formed("pk_" + key[3:])


def test_a_flood_of_unknown_keys_does_not_evict_the_keys_in_use() -> None:
    cache = LruTtlCache(max_entries=100, ttl_s=60)
    cache.put(b"in-use", _key("gateway"), now=0)
    for n in range(10_000):
        cache.put(f"unknown-{n}".encode(), None, now=0)
        if n % 50 == 0:
            assert cache.get(b"in-use", now=1) == (True, _key("gateway"))
    assert len(cache) == 100
    assert cache.get(b"unknown-0", now=1) == (False, None)  # the oldest went first
    assert cache.get(b"unknown-9999", now=1) == (True, None)


def test_an_entry_expires_after_its_ttl() -> None:
    cache = LruTtlCache(max_entries=10, ttl_s=5)
    cache.put(b"k", _key("k"), now=100)
    assert cache.get(b"k", now=104.9)[0]
    assert not cache.get(b"k", now=105)[0]


def test_key_usage_is_written_at_most_once_per_interval() -> None:
    usage = UsageRecorder(interval_s=60)
    for second in range(30):
        usage.touch("k1", now=second)  # a busy key: one write, not thirty
    usage.touch("k2", now=5)
    assert usage.take(now=30) == ["k1", "k2"]
    usage.touch("k1", now=31)  # written a second ago: nothing to do
    assert usage.take(now=40) == []
    usage.touch("k1", now=90)  # a minute after its write: due again
    assert usage.take(now=95) == ["k1"]


def test_a_revoked_or_expired_key_says_why() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert _key("k").refusal(now) is None
    assert replace(_key("k"), expires_at=now).refusal(now) == "expired API key"
    assert replace(_key("k"), expires_at=now + timedelta(seconds=1)).refusal(now) is None
    assert replace(_key("k"), revoked_at=now).refusal(now) == "revoked API key"
