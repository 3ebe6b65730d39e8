"""The real PostgreSQL and Redis of the local stack, as the application's role sees them."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest
import redis

pytestmark = pytest.mark.integration


def test_app_role_writes_and_reads_exact_decimals_in_a_transaction(
    pg: psycopg.Connection,
) -> None:
    pg.execute("CREATE TABLE probe (id text PRIMARY KEY, amount numeric(18, 4) NOT NULL)")
    with pg.transaction():
        pg.execute("INSERT INTO probe VALUES (%s, %s)", ("a", Decimal("42.5000")))
        pg.execute("INSERT INTO probe VALUES (%s, %s)", ("b", Decimal("0.0001")))
    total = pg.execute("SELECT sum(amount) FROM probe").fetchone()
    assert total == (Decimal("42.5001"),)


def test_a_failed_transaction_leaves_nothing_behind(pg: psycopg.Connection) -> None:
    pg.execute("CREATE TABLE probe (id text PRIMARY KEY)")
    with pytest.raises(psycopg.errors.UniqueViolation), pg.transaction():
        pg.execute("INSERT INTO probe VALUES ('x')")
        pg.execute("INSERT INTO probe VALUES ('x')")
    assert pg.execute("SELECT count(*) FROM probe").fetchone() == (0,)


def test_app_role_is_not_a_superuser(pg: psycopg.Connection) -> None:
    assert pg.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (
        False,
    )


def test_redis_set_if_absent_with_expiry(redis_client: redis.Redis, unique: str) -> None:
    key = f"test:{unique}:idem"
    try:
        assert redis_client.set(key, "first", nx=True, ex=60)
        assert not redis_client.set(key, "second", nx=True, ex=60)
        assert redis_client.get(key) == b"first"
        assert 0 < redis_client.ttl(key) <= 60
    finally:
        redis_client.delete(key)


def test_redis_never_evicts_to_make_room(redis_client: redis.Redis) -> None:
    policy = redis_client.config_get("maxmemory-policy")
    assert policy == {"maxmemory-policy": "noeviction"}
