"""Idempotency-key shape, key hashing and rate-limit quotas (no services)."""

from __future__ import annotations

import pytest

from ingest_api.errors import IdempotencyKeyMissing
from ingest_api.idempotency import body_fingerprint, check_key
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
