"""FastAPI dependencies as ``Annotated`` aliases: the runtime, and authenticated, scoped keys.

Every authenticated request is counted against its key's rate limits once. Most routes
count it in the dependency, before the request is read. A single ingest request (one
transaction, or an authorization) owes its count instead (``Metered``): its admission
round trip counts it with the Idempotency-Key and transaction id claims (ingest_api.ingest),
and if the request fails before that, the dependency counts it on the way out, where a
refusal (429) replaces the failure, as it would have come first. Same counts, same
answers, one Redis round trip less for a request that gets through.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ingest_api import admin_idempotency
from ingest_api.auth import require_scope
from ingest_api.errors import RateLimited, Unauthorized
from ingest_api.ingest import Charge
from ingest_api.keys import ApiKey, Scope
from ingest_api.ratelimit import Quota
from ingest_api.runtime import Runtime

log = logging.getLogger("ingest_api")
_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer sk_...`")


async def get_runtime(request: Request) -> Runtime:
    # async on purpose: FastAPI runs a plain def dependency in a thread pool, a thread hop
    # per request that cost ~20 % of the API's CPU in a py-spy profile.
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def client_address(request: Request) -> str:
    """The caller's address; behind a proxy, what uvicorn's --forwarded-allow-ips trusts."""
    return request.client.host if request.client else "unknown"


def quota_of(key: ApiKey, runtime: Runtime) -> Quota:
    settings = runtime.settings
    return Quota(
        per_second=key.rate_limit_per_second or settings.rate_limit_per_second,
        burst=key.burst or settings.rate_limit_burst,
    )


async def _authenticated(
    request: Request,
    runtime: Runtime,
    credentials: HTTPAuthorizationCredentials | None,
    scope: Scope,
) -> ApiKey:
    if credentials is None:
        raise Unauthorized("missing API key; send 'Authorization: Bearer <key>'")
    key = await runtime.keys.authenticate(credentials.credentials, client_address(request))
    require_scope(key, scope)
    return key


def scoped(scope: Scope) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency: the caller's key, authenticated, holding ``scope``, within its limits."""

    async def dependency(
        request: Request,
        runtime: RuntimeDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> ApiKey:
        key = await _authenticated(request, runtime, credentials, scope)
        await runtime.limiter.hit(key.key_id, quota_of(key, runtime))
        if scope is Scope.ADMIN:
            await admin_idempotency.claim(request, runtime.idempotency, key)
        return key

    return dependency


@dataclass(frozen=True, slots=True)
class Metered:
    """An ingest request's key and the one request it owes its rate limits until counted."""

    key: ApiKey
    charge: Charge


async def _metered(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> AsyncIterator[Metered]:
    """The ingest key, its count owed to the request's admission (``ingest.idempotent``)."""
    key = await _authenticated(request, runtime, credentials, Scope.INGEST)
    charge = Charge(key.key_id, quota_of(key, runtime), 1)
    try:
        yield Metered(key, charge)
    except Exception:
        # Failed before its admission counted it (an invalid body or parameter, a missing
        # Idempotency-Key, a body past the limit...): counted now; over the limit, the 429
        # replaces the failure, as the count used to come first.
        await charge.pay(runtime.limiter)
        raise
    if not charge.counted:  # every answer without an error went through the admission
        log.warning("an ingest request was answered without its rate-limit count; counted now")
        with suppress(RateLimited):
            await charge.pay(runtime.limiter)


IngestKey = Annotated[ApiKey, Depends(scoped(Scope.INGEST))]
ReadKey = Annotated[ApiKey, Depends(scoped(Scope.READ))]
AdminKey = Annotated[ApiKey, Depends(scoped(Scope.ADMIN))]
LabelsKey = Annotated[ApiKey, Depends(scoped(Scope.LABELS))]
# An ingest key whose request is counted with its admission (one transaction per request).
MeteredIngestKey = Annotated[Metered, Depends(_metered)]
