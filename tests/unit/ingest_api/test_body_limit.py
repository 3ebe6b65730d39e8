"""The request body limit and the batch item count (pure ASGI and pure functions, no services)."""

from __future__ import annotations

import orjson
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from ingest_api.body_limit import BodyLimitMiddleware
from ingest_api.errors import InvalidRequest
from ingest_api.ingest import parse_batch

LIMIT = 1_024


async def _echo_length(scope: Scope, receive: Receive, send: Send) -> None:
    body = await Request(scope, receive).body()
    await Response(str(len(body)).encode())(scope, receive, send)


class _Client:
    """Feeds a body in chunks and records what the app pulled and answered."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.pulled = 0
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        self.pulled += 1
        more = self.pulled < len(self.chunks)
        return {"type": "http.request", "body": self.chunks[self.pulled - 1], "more_body": more}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def body(self) -> dict[str, object]:
        return dict(orjson.loads(b"".join(m.get("body", b"") for m in self.sent[1:])))


async def _call(client: _Client, headers: list[tuple[bytes, bytes]]) -> None:
    scope: Scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    await BodyLimitMiddleware(_echo_length, LIMIT)(scope, client.receive, client.send)


async def test_a_declared_length_over_the_limit_is_413_before_any_read() -> None:
    client = _Client([b"x" * 10])
    await _call(client, [(b"content-length", str(LIMIT + 1).encode())])
    assert client.status == 413 and client.pulled == 0
    assert client.body == {
        "code": "payload_too_large",
        "message": f"the request body exceeds the limit of {LIMIT} bytes",
        "details": {"max_bytes": LIMIT},
    }
    assert (b"connection", b"close") in client.sent[0]["headers"]


async def test_a_chunked_body_is_cut_off_as_soon_as_it_passes_the_limit() -> None:
    client = _Client([b"x" * 300] * 100)  # 30 KB sent without a Content-Length
    await _call(client, [])
    assert client.status == 413
    assert client.pulled == 4  # 1,200 bytes: the fourth chunk crossed 1,024; none after it


async def test_a_body_within_the_limit_reaches_the_app_whole() -> None:
    client = _Client([b"x" * 512, b"y" * 512])
    await _call(client, [(b"content-length", b"1024")])
    assert client.status == 200
    assert b"".join(m.get("body", b"") for m in client.sent[1:]) == b"1024"


def test_a_batch_is_counted_before_any_item_is_validated() -> None:
    # 501 items none of which is even an object: the answer is the count, not 501 errors.
    with pytest.raises(InvalidRequest) as refused:
        parse_batch(orjson.dumps({"transactions": list(range(501))}), 500)
    assert refused.value.details == {"items": 501, "max": 500}


def test_a_batch_within_the_limit_keeps_items_json_cannot_round_trip() -> None:
    raw = b'{"transactions": [{"account_id": -15232184859514402159160459264}]}'
    assert parse_batch(raw, 500) == [{"account_id": -15232184859514402159160459264}]
