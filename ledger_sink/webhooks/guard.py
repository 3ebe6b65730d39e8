"""The dispatcher's HTTP transport: every connection goes only to an address the webhook
target policy allows, checked when the connection is made.

httpx resolves a host inside its connection pool, after any check a caller could make, so a
name that resolved to a public address at registration could resolve to 127.0.0.1 at
delivery (DNS rebinding). Here the pool's network backend (httpcore's public extension
point) resolves the name itself, refuses the connection if any address is not allowed, and
connects to the checked address; TLS still verifies the certificate against the URL's name.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterable

import httpcore
import httpx

from schemas.webhook_targets import (
    Resolver,
    TargetRefused,
    TargetUnresolvable,
    WebhookTargetPolicy,
    resolve_checked,
    system_resolver,
)

_TRANSPORT_ERRORS = (
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ConnectionNotAvailable,
    httpcore.ProxyError,
    OSError,
)


class Refused(httpx.TransportError):
    """The policy refused the target (at connect time); nothing was sent."""


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolve, check every address, then connect to a checked address (never the name)."""

    def __init__(
        self,
        policy: WebhookTargetPolicy,
        resolver: Resolver = system_resolver,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.policy, self.resolver = policy, resolver
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await resolve_checked(host, port, self.policy, self.resolver)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError) as exc:
                failure = exc  # try the next checked address, as a resolver-driven connect would
        assert failure is not None  # noqa: S101 - resolve_checked returns at least one address
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise TargetRefused("unix sockets are not webhook targets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport over an httpcore pool whose backend is a GuardedBackend; it also
    refuses plain http unless the policy allows it."""

    def __init__(
        self,
        policy: WebhookTargetPolicy,
        max_connections: int,
        resolver: Resolver = system_resolver,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.policy = policy
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(),
            max_connections=max_connections,
            network_backend=GuardedBackend(policy, resolver),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "https" and not self.policy.allow_http:
            raise Refused("the URL must use https", request=request)
        assert isinstance(request.stream, httpx.AsyncByteStream)  # noqa: S101 - AsyncClient's
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = await self._pool.handle_async_request(core_request)
        except Exception as exc:
            raise _mapped(exc, request) from exc
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response, request),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: httpcore.Response, request: httpx.Request) -> None:
        self._response, self._request = response, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._response.aiter_stream():
                yield part
        except Exception as exc:
            raise _mapped(exc, self._request) from exc

    async def aclose(self) -> None:
        await self._response.aclose()


def _mapped(exc: Exception, request: httpx.Request) -> Exception:
    """httpcore's and the policy's errors as httpx's; anything else (a bug) unchanged."""
    if isinstance(exc, TargetRefused):
        return Refused(str(exc), request=request)
    if isinstance(exc, TargetUnresolvable):
        return httpx.ConnectError(str(exc), request=request)
    if isinstance(exc, httpcore.TimeoutException):
        return httpx.TimeoutException(str(exc), request=request)
    if isinstance(exc, _TRANSPORT_ERRORS):
        return httpx.TransportError(str(exc), request=request)
    return exc
