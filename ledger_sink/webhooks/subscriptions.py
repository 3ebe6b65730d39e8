"""Webhook subscriptions in PostgreSQL: the repository the CLI, the admin API and the
dispatcher share (async psycopg; the sync callers run it with asyncio.run).

Each function runs one statement on the caller's connection; a caller that is not in
autocommit mode commits. Event types are dotted names (``decision.declined``); a
subscription may also name ``decision.*`` (every event under ``decision.``) or ``*``.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from psycopg import AsyncConnection
from psycopg.rows import class_row

from ledger_sink.errors import InvalidSubscription
from schemas.webhook_targets import (
    TargetRefused,
    TargetUnresolvable,
    WebhookTargetPolicy,
    check_url,
    resolve_checked,
)

MIN_SECRET_LENGTH = 16
_EVENT_PATTERN = re.compile(r"^(\*|[a-z][a-z0-9_]*(\.[a-z0-9_]+)*(\.\*)?)$")
_COLUMNS = "subscription_id::text, url, secret, event_types, active, created_at"


@dataclass(frozen=True, slots=True)
class Subscription:
    subscription_id: str
    url: str = field(repr=False)  # may hold basic-auth userinfo: shown only through redact()
    secret: str = field(repr=False)  # signs deliveries; never logged or listed
    event_types: list[str]
    active: bool
    created_at: datetime

    def wants(self, event_type: str) -> bool:
        return any(matches(pattern, event_type) for pattern in self.event_types)


def matches(pattern: str, event_type: str) -> bool:
    if pattern == "*" or pattern == event_type:
        return True
    return pattern.endswith(".*") and event_type.startswith(pattern[:-1])


def validate(
    url: str, event_types: Sequence[str], secret: str, policy: WebhookTargetPolicy
) -> None:
    """InvalidSubscription naming the first problem (never echoing the URL), or nothing."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidSubscription("the URL cannot be parsed") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidSubscription("the URL is not an http(s) URL with a host")
    try:
        check_url(url, policy)
    except TargetRefused as exc:
        raise InvalidSubscription(str(exc)) from exc
    if not event_types:
        raise InvalidSubscription("name at least one event type")
    for pattern in event_types:
        if not _EVENT_PATTERN.match(pattern):
            raise InvalidSubscription(f"event type {pattern!r} is not a dotted name")
    if len(secret) < MIN_SECRET_LENGTH:
        raise InvalidSubscription(f"the secret needs at least {MIN_SECRET_LENGTH} characters")


async def check_resolved(url: str, policy: WebhookTargetPolicy) -> None:
    """Refuse a name that resolves to an address the policy refuses. A name that does not
    resolve yet passes: the dispatcher checks again at every connection, which is the
    guarantee; this only fails early."""
    target = check_url(url, policy)
    try:
        await resolve_checked(target.host, target.port, policy)
    except TargetRefused as exc:
        raise InvalidSubscription(str(exc)) from exc
    except TargetUnresolvable:
        return


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


async def create(
    conn: AsyncConnection,
    url: str,
    event_types: Sequence[str],
    secret: str | None = None,
    *,
    policy: WebhookTargetPolicy,
) -> Subscription:
    """A new active subscription; a secret is generated when none is given."""
    secret = secret or new_secret()
    validate(url, event_types, secret, policy)
    await check_resolved(url, policy)
    async with conn.cursor(row_factory=class_row(Subscription)) as cur:
        await cur.execute(
            f"INSERT INTO webhook_subscriptions (url, secret, event_types)"  # noqa: S608
            f" VALUES (%s, %s, %s) RETURNING {_COLUMNS}",
            (url, secret, list(dict.fromkeys(event_types))),
        )
        row = await cur.fetchone()
    if row is None:
        raise InvalidSubscription("the subscription was not stored")
    return row


async def list_all(conn: AsyncConnection, *, active_only: bool = False) -> list[Subscription]:
    where = "WHERE active" if active_only else ""
    async with conn.cursor(row_factory=class_row(Subscription)) as cur:
        await cur.execute(
            f"SELECT {_COLUMNS} FROM webhook_subscriptions {where}"  # noqa: S608
            " ORDER BY created_at, subscription_id"
        )
        return await cur.fetchall()


async def get(conn: AsyncConnection, subscription_id: str) -> Subscription | None:
    if not _is_uuid(subscription_id):
        return None
    async with conn.cursor(row_factory=class_row(Subscription)) as cur:
        await cur.execute(
            f"SELECT {_COLUMNS} FROM webhook_subscriptions"  # noqa: S608
            " WHERE subscription_id = %s",
            (subscription_id,),
        )
        return await cur.fetchone()


async def set_active(conn: AsyncConnection, subscription_id: str, active: bool) -> bool:
    """Enable or disable a subscription; False when there is no such subscription."""
    if not _is_uuid(subscription_id):
        return False
    cur = await conn.execute(
        "UPDATE webhook_subscriptions SET active = %s WHERE subscription_id = %s",
        (active, subscription_id),
    )
    return cur.rowcount == 1


async def disable(conn: AsyncConnection, subscription_id: str) -> bool:
    return await set_active(conn, subscription_id, False)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
