"""Idempotency-Key on admin POSTs: a retried create returns the first answer, changes nothing.

The ingest routes hash and replay their raw bodies themselves (``ingest.idempotent``). The
admin routes take parsed bodies, so the work is split in two: after authentication a
dependency claims the key (or replays the stored answer); an ASGI middleware, which alone
sees the answer's bytes, stores a 2xx answer or frees the key after anything else, so that a
retry of a refused or failed request runs again. The header is optional here: admin clients
that never retry need not send it.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingest_api.idempotency import IdempotencyStore, StoredResponse, body_fingerprint, check_key
from ingest_api.keys import ApiKey
from ingest_api.metrics import IDEMPOTENT_REPLAYS

_STATE = "admin_idempotency_claim"


@dataclass(frozen=True, slots=True)
class Claim:
    store: IdempotencyStore
    rkey: bytes
    fingerprint: bytes


class Replayed(Exception):  # noqa: N818 - not an error: the stored answer, to send again
    def __init__(self, stored: StoredResponse) -> None:
        super().__init__("replayed")
        self.stored = stored


def replay_response(exc: Replayed) -> Response:
    IDEMPOTENT_REPLAYS.inc()
    headers = {"Idempotent-Replayed": "true"}
    return Response(exc.stored.body, exc.stored.status, headers, "application/json")


async def claim(request: Request, store: IdempotencyStore, key: ApiKey) -> None:
    """Claim the request's Idempotency-Key, if it sent one; raise Replayed for a retry."""
    header = request.headers.get("Idempotency-Key")
    if request.method != "POST" or header is None:
        return
    rkey = store.redis_key(key.key_id, check_key(header))
    fingerprint = body_fingerprint(request.url.path.encode() + b"\n" + await request.body())
    stored = await store.claim(rkey, fingerprint)
    if stored is not None:
        raise Replayed(stored)
    # The request's state dict is the one the middleware holds (it made sure there is one).
    request.scope.setdefault("state", {})[_STATE] = Claim(store, rkey, fingerprint)


class AdminIdempotencyMiddleware:
    """Completes (2xx) or releases (anything else) the claim made for this request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        status, chunks = [0], list[bytes]()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            elif _claim_of(scope) is not None:  # only claimed answers are kept
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            await _finish(scope, 500, b"")
            raise
        await _finish(scope, status[0], b"".join(chunks))


def _claim_of(scope: Scope) -> Claim | None:
    found = scope.get("state", {}).get(_STATE)
    return found if isinstance(found, Claim) else None


async def _finish(scope: Scope, status: int, body: bytes) -> None:
    claimed = _claim_of(scope)
    if claimed is None:
        return
    if 200 <= status < 300:
        stored = StoredResponse(status, body)
        await claimed.store.complete(claimed.rkey, claimed.fingerprint, stored)
    else:
        await claimed.store.release(claimed.rkey)
