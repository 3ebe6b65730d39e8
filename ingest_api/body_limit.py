"""The request body limit: a body past ``max_bytes`` is answered 413 and read no further.

A declared ``Content-Length`` over the limit is refused before a byte of the body is read;
a chunked body (no length) is counted as it arrives and refused the moment it passes the
limit, so a client can never make the API buffer or parse more than ``max_bytes``.

FastAPI's own ``max_body_size`` (0.165) was tried first: its refusal of a declared length
is Starlette's plain-text "Content Too Large", not the API's stable error body.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingest_api.handlers import error_response


class BodyTooLarge(Exception):
    """Raised into the app by the guarded ``receive``: the route must stop reading."""


class _CountingReceive:
    """Wraps ``receive``: counts body bytes and stops pulling once past the limit."""

    def __init__(self, receive: Receive, max_bytes: int) -> None:
        self._receive = receive
        self.max_bytes = max_bytes
        self.received = 0
        self.exceeded = False

    async def __call__(self) -> Message:
        if self.exceeded:
            raise BodyTooLarge
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.max_bytes:
                self.exceeded = True
                raise BodyTooLarge
        return message


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, if it sent a well-formed one."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimitMiddleware:
    """Refuses request bodies larger than ``max_bytes`` with the stable 413 error body."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = declared_length(scope)
        if length is not None and length > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        counting = _CountingReceive(receive, self.max_bytes)
        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if counting.exceeded:
                return  # whatever the app made of a body cut short, the answer is our 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting, guarded_send)
        except BodyTooLarge:
            pass
        except Exception:
            if not counting.exceeded:
                raise
        if counting.exceeded and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Connection: close, because the rest of the body is never read: the connection
        # cannot carry another request.
        response = error_response(
            413,
            "payload_too_large",
            f"the request body exceeds the limit of {self.max_bytes} bytes",
            {"max_bytes": self.max_bytes},
            {"Connection": "close"},
        )
        await response(scope, receive, send)
