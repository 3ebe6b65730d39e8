"""FastAPI dependencies as ``Annotated`` aliases: the runtime, and authenticated, scoped keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ingest_api import admin_idempotency
from ingest_api.auth import require_scope
from ingest_api.errors import Unauthorized
from ingest_api.keys import ApiKey, Scope
from ingest_api.ratelimit import Quota
from ingest_api.runtime import Runtime

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


def scoped(scope: Scope) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency: the caller's key, authenticated, holding ``scope``, within its limits."""

    async def dependency(
        request: Request,
        runtime: RuntimeDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> ApiKey:
        if credentials is None:
            raise Unauthorized("missing API key; send 'Authorization: Bearer <key>'")
        key = await runtime.keys.authenticate(credentials.credentials, client_address(request))
        require_scope(key, scope)
        await runtime.limiter.hit(key.key_id, quota_of(key, runtime))
        if scope is Scope.ADMIN:
            await admin_idempotency.claim(request, runtime.idempotency, key)
        return key

    return dependency


IngestKey = Annotated[ApiKey, Depends(scoped(Scope.INGEST))]
ReadKey = Annotated[ApiKey, Depends(scoped(Scope.READ))]
AdminKey = Annotated[ApiKey, Depends(scoped(Scope.ADMIN))]
LabelsKey = Annotated[ApiKey, Depends(scoped(Scope.LABELS))]
