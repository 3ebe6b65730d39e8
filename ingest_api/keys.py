"""API keys: generation, keyed hashing, and their rows in PostgreSQL (``api_keys``).

A key is shown once, at creation; only its HMAC-SHA256 under a server-side pepper is
stored. Keys are 256-bit random tokens, so a fast keyed hash is enough: there is nothing to
brute-force, and the pepper keeps a leaked table from confirming guesses.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from psycopg import AsyncConnection

KEY_PREFIX = "sk_"


class Scope(StrEnum):
    INGEST = "ingest"
    READ = "read"
    ADMIN = "admin"
    # POST /v1/labels: chargebacks and fraud confirmations from the bank's systems. Not part
    # of ingest: a gateway that sends transactions has no business declaring them fraud.
    LABELS = "labels"


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    name: str
    key_prefix: str
    scopes: frozenset[Scope]
    rate_limit_per_second: int | None
    burst: int | None
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None

    def refusal(self, now: datetime) -> str | None:
        """Why this key may not be used at ``now``; None when it may."""
        if self.revoked_at is not None:
            return "revoked API key"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired API key"
        return None


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str, pepper: str) -> bytes:
    return hmac.new(pepper.encode(), key.encode(), hashlib.sha256).digest()


def display_prefix(key: str) -> str:
    """The 8 characters after "sk_": enough to tell keys apart in listings, useless alone."""
    return key[len(KEY_PREFIX) : len(KEY_PREFIX) + 8]


_COLUMNS = (
    "key_id, name, key_prefix, scopes, rate_limit_per_second, burst, created_at, revoked_at,"
    " expires_at, last_used_at"
)


def _row_to_key(row: tuple[Any, ...]) -> ApiKey:
    key_id, name, prefix, scopes, per_second, burst, created_at, revoked_at, *times = row
    return ApiKey(
        key_id=str(key_id),
        name=name,
        key_prefix=prefix,
        scopes=frozenset(Scope(s) for s in scopes),
        rate_limit_per_second=per_second,
        burst=burst,
        created_at=created_at,
        revoked_at=revoked_at,
        expires_at=times[0],
        last_used_at=times[1],
    )


async def create_key(
    conn: AsyncConnection,
    name: str,
    scopes: set[Scope],
    pepper: str,
    rate_limit_per_second: int | None = None,
    burst: int | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Insert a new key; returns its row and the secret (never stored, shown once)."""
    secret = generate_key()
    async with conn.cursor() as cur:
        await cur.execute(
            f"INSERT INTO api_keys (key_id, name, key_prefix, key_hash, scopes, "  # noqa: S608
            f"rate_limit_per_second, burst, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            f"RETURNING {_COLUMNS}",
            (
                uuid.uuid4(),
                name,
                display_prefix(secret),
                hash_key(secret, pepper),
                sorted(scopes),
                rate_limit_per_second,
                burst,
                expires_at,
            ),
        )
        row = await cur.fetchone()
    assert row is not None  # noqa: S101 - INSERT ... RETURNING yields its row
    return _row_to_key(row), secret


async def find_by_secret(conn: AsyncConnection, secret: str, pepper: str) -> ApiKey | None:
    async with conn.cursor() as cur:
        await cur.execute(
            f"SELECT {_COLUMNS} FROM api_keys WHERE key_hash = %s",  # noqa: S608
            (hash_key(secret, pepper),),
        )
        row = await cur.fetchone()
    return _row_to_key(row) if row else None


async def revoke_key(conn: AsyncConnection, key_id: str) -> bool:
    cur = await conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE key_id = %s AND revoked_at IS NULL",
        (key_id,),
    )
    return cur.rowcount == 1


async def mark_used(conn: AsyncConnection, key_ids: list[str]) -> None:
    """One statement for every key used since the last call (see ingest_api.key_usage)."""
    await conn.execute(
        "UPDATE api_keys SET last_used_at = now() WHERE key_id = ANY(%s::uuid[])", (key_ids,)
    )


async def list_keys(conn: AsyncConnection) -> list[ApiKey]:
    async with conn.cursor() as cur:
        await cur.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at")  # noqa: S608
        return [_row_to_key(row) for row in await cur.fetchall()]
