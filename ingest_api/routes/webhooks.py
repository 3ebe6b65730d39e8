"""Webhook subscriptions under /v1/webhooks/subscriptions (admin): who hears about decisions.

The dispatcher (ledger_sink.webhooks) reads the same table. The API keeps its own three
statements rather than importing the sink: the two services share the table, not code.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Response
from psycopg import AsyncConnection
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from ingest_api.db import query
from ingest_api.deps import AdminKey, RuntimeDep
from ingest_api.errors import InvalidRequest, NotFound
from ingest_api.models import ErrorBody
from schemas.webhook_targets import (
    TargetRefused,
    TargetUnresolvable,
    WebhookTargetPolicy,
    check_url,
    redact,
    resolve_checked,
)

router = APIRouter(prefix="/v1/webhooks/subscriptions", tags=["webhooks"])
ERRORS: dict[int | str, dict[str, Any]] = {
    c: {"model": ErrorBody} for c in (400, 401, 403, 404, 422, 429, 503)
}
EventType = Annotated[str, Field(pattern=r"^(\*|[a-z][a-z_]*(\.[a-z][a-z_]*)*(\.\*)?)$")]
# A slow resolver must not hold an admin request long; an unresolved name is let through.
_RESOLVE_TIMEOUT_S = 2.0
COLUMNS = "subscription_id::text, url, event_types, active, created_at"


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl
    event_types: list[EventType] = Field(
        min_length=1, max_length=20, examples=[["decision.declined", "decision.review"]]
    )
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=256,
        pattern=r"^[\x21-\x7e]+$",
        description="Signs every delivery (HMAC-SHA256); generated and shown once if absent.",
    )


def _public(row: tuple[Any, ...]) -> dict[str, Any]:
    sid, url, event_types, active, created_at = row
    return {
        "subscription_id": sid,
        "url": redact(url),
        "event_types": event_types,
        "active": active,
        "created_at": created_at.isoformat(),
    }


@router.post("", status_code=201, responses={201: {}, **ERRORS}, summary="Subscribe a URL")
async def subscribe(body: SubscriptionIn, runtime: RuntimeDep, _key: AdminKey) -> Response:
    await _check_target(str(body.url), runtime.settings.webhook_targets)
    secret = body.secret or f"whsec_{secrets.token_urlsafe(32)}"

    async def insert(conn: AsyncConnection) -> tuple[Any, ...] | None:
        cur = await conn.execute(
            f"INSERT INTO webhook_subscriptions (url, secret, event_types)"  # noqa: S608
            f" VALUES (%s, %s, %s) RETURNING {COLUMNS}",
            (str(body.url), secret, list(dict.fromkeys(body.event_types))),
        )
        return await cur.fetchone()

    row = await query(runtime, insert)
    assert row is not None  # noqa: S101 - INSERT ... RETURNING yields its row
    created = _public(row) | ({"secret": secret} if body.secret is None else {})
    return Response(orjson.dumps(created), 201, media_type="application/json")


async def _check_target(url: str, policy: WebhookTargetPolicy) -> None:
    """422 for a URL the webhook target policy refuses (checked again by the dispatcher at
    every connection). A name that does not resolve yet passes; one that resolves to a
    refused address does not. The message names the rule, never the URL (userinfo)."""
    try:
        target = check_url(url, policy)
        async with asyncio.timeout(_RESOLVE_TIMEOUT_S):
            await resolve_checked(target.host, target.port, policy)
    except TargetRefused as exc:
        raise InvalidRequest(
            f"url refused: {exc}", [{"path": "url", "message": str(exc), "type": "url_refused"}]
        ) from exc
    except (TargetUnresolvable, TimeoutError):
        return


@router.get("", responses=ERRORS, summary="Every subscription (secrets are never listed)")
async def subscriptions(runtime: RuntimeDep, _key: AdminKey) -> Response:
    async def select(conn: AsyncConnection) -> list[tuple[Any, ...]]:
        cur = await conn.execute(
            f"SELECT {COLUMNS} FROM webhook_subscriptions ORDER BY created_at"  # noqa: S608
        )
        return await cur.fetchall()

    rows = await query(runtime, select)
    return Response(orjson.dumps([_public(r) for r in rows]), media_type="application/json")


@router.post("/{subscription_id}/disable", responses=ERRORS, summary="Stop deliveries")
async def disable(
    subscription_id: Annotated[uuid.UUID, Path()], runtime: RuntimeDep, _key: AdminKey
) -> Response:
    async def update(conn: AsyncConnection) -> tuple[Any, ...] | None:
        cur = await conn.execute(
            f"UPDATE webhook_subscriptions SET active = false"  # noqa: S608
            f" WHERE subscription_id = %s RETURNING {COLUMNS}",
            (subscription_id,),
        )
        return await cur.fetchone()

    row = await query(runtime, update)
    if row is None:
        raise NotFound(f"no subscription {subscription_id}")
    return Response(orjson.dumps(_public(row)), media_type="application/json")
