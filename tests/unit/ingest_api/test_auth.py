"""The key shape check and the key cache's LRU eviction (no services)."""

from __future__ import annotations

from datetime import UTC, datetime

from ingest_api.auth import LruTtlCache, well_formed
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
