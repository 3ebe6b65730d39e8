"""The ingest use case: validate, claim the idempotency key, publish durably, answer."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import pydantic_core
from fastapi import Response
from redis.exceptions import RedisError

from ingest_api.admission import Admitted, Claims
from ingest_api.errors import IdempotencyKeyMissing, InvalidRequest, TransactionIdConflict
from ingest_api.idempotency import StoredResponse, body_fingerprint, check_key, unavailable
from ingest_api.metrics import IDEMPOTENT_REPLAYS
from ingest_api.models import BatchIn, TransactionIn, ValidationContext
from ingest_api.publisher import OutgoingRecord
from ingest_api.ratelimit import Quota, RateLimiter
from ingest_api.runtime import Runtime
from ingest_api.settings import ApiSettings
from ingest_api.transaction_ids import TransactionIds
from schemas.codec import encode_transaction
from schemas.records import Transaction
from schemas.topics import HEADER_AWAITED, HEADER_REPLY_TO
from schemas.transaction_claims import Claim, claim_of, conflicts, created

JSON = "application/json"
# A request's transaction id claims, and the hash each id held before (None: claimed now).
IdClaims = tuple[list[Claim], list[str | None]]
Action = Callable[[IdClaims], Awaitable[tuple[int, bytes]]]


def utcnow() -> datetime:
    return datetime.now(UTC)


def context(settings: ApiSettings, now: datetime) -> ValidationContext:
    return ValidationContext(
        now=now, max_future_skew_s=settings.max_future_skew_s, max_age_days=settings.max_age_days
    )


def parse_transaction(raw: bytes | dict[str, Any], ctx: ValidationContext) -> TransactionIn:
    """Strict validation; raw bytes go through pydantic's JSON parser in one pass."""
    if isinstance(raw, bytes):
        return TransactionIn.model_validate_json(raw, strict=True, context=ctx)
    # Items of a batch arrive parsed; round-trip them so they get the same JSON-mode rules.
    return TransactionIn.model_validate_json(orjson.dumps(raw), strict=True, context=ctx)


def parse_batch(raw: bytes, max_items: int) -> list[dict[str, Any]]:
    """A batch's items, counted before any of them is validated.

    The body is parsed once without validation (it is bounded by the body limit), its items
    counted, and only then is the batch's shape validated: an oversized batch costs no
    per-item work. Big integers survive the parse, so such an item is refused on its own.
    """
    try:
        parsed = pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError:
        parsed = None  # the strict validation below names the JSON error
    items = parsed.get("transactions") if isinstance(parsed, dict) else None
    if isinstance(items, list) and len(items) > max_items:
        raise InvalidRequest(
            f"a batch holds at most {max_items} transactions",
            {"items": len(items), "max": max_items},
        )
    if parsed is None:
        return BatchIn.model_validate_json(raw, strict=True).transactions
    return BatchIn.model_validate(parsed, strict=True).transactions


def outgoing(tx: TransactionIn, now: datetime, idempotency_key: str) -> OutgoingRecord:
    return outgoing_record(tx.to_record(now, idempotency_key))


Headers = tuple[tuple[str, bytes], ...]


def awaited_headers(reply_to: int | None) -> Headers:
    """The headers of a transaction whose caller waits for its decision: marked awaited
    (``HEADER_AWAITED``), and its decision's copy asked for on partition ``reply_to`` of
    ``decision-replies`` (``HEADER_REPLY_TO``; None: no copy, the call falls back)."""
    awaited = (HEADER_AWAITED, b"1")
    return (awaited,) if reply_to is None else (awaited, (HEADER_REPLY_TO, b"%d" % reply_to))


def outgoing_record(record: Transaction, headers: Headers = ()) -> OutgoingRecord:
    return OutgoingRecord(
        key=record.account_id.encode(), value=encode_transaction(record), headers=headers
    )


async def publish_claimed(
    runtime: Runtime, records: list[Transaction], claimed: IdClaims, headers: Headers = ()
) -> list[bool]:
    """Publish ``records`` whose transaction ids are not taken by other content; per record,
    whether it was refused as a conflict (``transaction_ids``). Nothing is published for
    a conflicting one; a failed publish frees the ids it claimed. ``claimed``: the records'
    claims and what each id held before them (``idempotent`` made them); ``headers``: the
    records' headers (``awaited_headers`` where the caller waits for their decisions)."""
    claims, previous = claimed
    clashing = conflicts(claims, previous)
    publishable = [
        outgoing_record(r, headers) for r, clash in zip(records, clashing, strict=True) if not clash
    ]
    try:
        if publishable:
            await runtime.publisher.publish(publishable)
    except BaseException:
        ids = TransactionIds(runtime.redis, runtime.settings.transaction_id_window_s)
        await ids.release(created(claims, previous))
        raise
    return clashing


async def publish_one(
    runtime: Runtime, record: Transaction, claimed: IdClaims, headers: Headers = ()
) -> None:
    """``publish_claimed`` for one transaction: a conflict is a 409, nothing published."""
    if (await publish_claimed(runtime, [record], claimed, headers))[0]:
        raise TransactionIdConflict(
            "this transaction_id was already used for a transaction with different content",
            {"transaction_id": record.transaction_id},
        )


def decision_url(transaction_id: str) -> str:
    return f"/v1/decisions/{transaction_id}"


@dataclass(slots=True)
class Charge:
    """Rate-limit cost a request still owes (a single request's one, a batch's items beyond
    the first): ``counted`` once its windows were counted (or refused it)."""

    key_id: str
    quota: Quota
    cost: int
    counted: bool = False

    async def pay(self, limiter: RateLimiter) -> None:
        """Count it now, unless it was (RateLimited when the key's windows refuse it)."""
        if not self.counted:
            self.counted = True
            await limiter.hit(self.key_id, self.quota, self.cost)


async def idempotent(
    runtime: Runtime,
    scope: str,
    route: str,
    idempotency_key: str | None,
    body: bytes,
    action: Action,
    records: Sequence[Transaction] = (),
    charge: Charge | None = None,
) -> Response:
    """Run ``action`` once per (key, Idempotency-Key); replay its response afterwards.

    One round trip (``admission``) counts ``charge``, claims the key and, if the key was
    free, the transaction ids of ``records``, whose claims ``action`` receives.
    """
    try:
        key = check_key(idempotency_key)
    except IdempotencyKeyMissing:
        if charge is not None:  # counted before the header is looked at, as always
            await charge.pay(runtime.limiter)
        raise
    store = runtime.idempotency
    rkey = store.redis_key(scope, key)
    fingerprint = body_fingerprint(route.encode() + b"\n" + body)
    ids = [claim_of(r) for r in records]
    admitted = await _admit(runtime, store.claims(rkey, fingerprint), ids, charge)
    stored = store.replay_of(admitted.entry, fingerprint)
    if stored is not None:
        IDEMPOTENT_REPLAYS.inc()
        return Response(stored.body, stored.status, {"Idempotent-Replayed": "true"}, JSON)
    try:
        status, payload = await action((ids, admitted.ids or [None] * len(ids)))
    except BaseException:
        await store.release(rkey)
        raise
    await store.complete(rkey, fingerprint, StoredResponse(status, payload))
    return Response(payload, status, media_type=JSON)


async def _admit(
    runtime: Runtime, claims: Claims, ids: list[Claim], charge: Charge | None
) -> Admitted:
    """The admission round trip; RateLimited for a refused charge (nothing claimed)."""
    windows = (
        [] if charge is None else runtime.limiter.windows(charge.key_id, charge.quota, charge.cost)
    )
    window_s = runtime.settings.transaction_id_window_s
    if window_s > 0:  # otherwise the registry is off: no id is claimed, none conflicts
        claims = dataclasses.replace(claims, ids=ids, window_s=window_s)
    try:
        admitted = await runtime.admission([w for _item, w in windows], claims)
    except RedisError as exc:
        raise unavailable() from exc
    if charge is not None:
        charge.counted = True
        if admitted.refused is not None:
            await runtime.limiter.refuse(windows[admitted.refused][0], charge.key_id)
    return admitted
