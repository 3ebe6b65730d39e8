"""The dispatcher's guarded transport against a real receiver on this machine: the target
policy is checked when the connection is made, the connection goes to the checked address
(never to a second lookup of the name), and what is recorded of a failure says nothing about
the target's ports."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import httpcore
import httpx
import pytest

from ledger_sink.testing import decision, transaction, webhook_event
from ledger_sink.webhooks.delivery import NO_RESPONSE, post
from ledger_sink.webhooks.guard import GuardedBackend, GuardedTransport, Refused
from ledger_sink.webhooks.subscriptions import Subscription
from schemas.webhook_targets import WebhookTargetPolicy
from tests.support.receiver import Receiver

SECRET = "whsec_0123456789abcdef"
LOOPBACK = WebhookTargetPolicy(allow_http=True, allowed_networks="127.0.0.0/8")
STRICT_HTTP = WebhookTargetPolicy(allow_http=True, allowed_networks=())


def answers(*addresses: str) -> tuple[list[str], object]:
    """A resolver that answers `addresses` in turn, one per lookup, and counts lookups."""
    asked: list[str] = []

    async def resolve(host: str, _port: int) -> list[str]:
        asked.append(host)
        return [addresses[min(len(asked), len(addresses)) - 1]]

    return asked, resolve


class Recording(httpcore.AsyncNetworkBackend):
    """The real backend, noting which host each connection was opened to."""

    def __init__(self) -> None:
        self.inner = httpcore.AnyIOBackend()
        self.hosts: list[str] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.hosts.append(host)
        return await self.inner.connect_tcp(host, port, timeout, local_address, socket_options)


async def test_a_name_is_connected_to_at_its_checked_address() -> None:
    asked, resolve = answers("127.0.0.1")
    recording = Recording()
    backend = GuardedBackend(LOOPBACK, resolve, recording)  # type: ignore[arg-type]
    with Receiver(SECRET) as receiver:
        port = receiver.server.server_address[1]
        pool = httpcore.AsyncConnectionPool(network_backend=backend)
        response = await pool.request("GET", f"http://hooks.test:{port}/hook")
        await pool.aclose()
    assert response.status == 501  # the receiver only answers POST: it was reached
    assert asked == ["hooks.test"] and recording.hosts == ["127.0.0.1"]


async def test_dns_rebinding_to_an_internal_address_is_refused_at_connect_time() -> None:
    # Public when an admin registered it, loopback when the dispatcher connects.
    _asked, resolve = answers("127.0.0.1")
    transport = GuardedTransport(STRICT_HTTP, 4, resolver=resolve)  # type: ignore[arg-type]
    with Receiver(SECRET) as receiver:
        port = receiver.server.server_address[1]
        async with httpx.AsyncClient(transport=transport) as client:
            with pytest.raises(Refused):
                await client.post(f"http://rebind.test:{port}/hook", content=b"{}")
        assert receiver.total_attempts() == 0


async def test_literal_shorthand_addresses_are_refused_at_connect_time() -> None:
    transport = GuardedTransport(STRICT_HTTP, 4)
    async with httpx.AsyncClient(transport=transport) as client:
        for url in ("http://0x7f000001:9/", "http://2130706433:9/", "http://[::ffff:7f00:1]:9/"):
            with pytest.raises(Refused):
                await client.post(url, content=b"{}")


async def test_plain_http_is_refused_unless_allowed() -> None:
    strict = WebhookTargetPolicy(allow_http=False, allowed_networks="127.0.0.0/8")
    async with httpx.AsyncClient(transport=GuardedTransport(strict, 4)) as client:
        with pytest.raises(Refused, match="https"):
            await client.post("http://127.0.0.1:9/", content=b"{}")


def subscription(url: str) -> Subscription:
    return Subscription("sub-1", url, SECRET, ["*"], True, datetime(2026, 12, 1, tzinfo=UTC))


async def test_refused_closed_and_blocked_targets_record_the_same_generic_error() -> None:
    event = webhook_event(decision(transaction("a")))
    errors = []
    async with httpx.AsyncClient(transport=GuardedTransport(LOOPBACK, 4)) as client:
        # A closed port on an allowed network, a refused network, a literal shorthand form.
        for url in ("http://127.0.0.1:9/", "http://[::1]:6380/", "http://169.254.169.254/"):
            attempt = await post(client, subscription(url), event, 1, 2.0)
            assert not attempt.ok
            errors.append(attempt.error)
    assert errors == [NO_RESPONSE] * 3


async def test_a_delivery_to_an_allowed_receiver_goes_through() -> None:
    event = webhook_event(decision(transaction("a")))
    with Receiver(SECRET) as receiver:
        async with httpx.AsyncClient(transport=GuardedTransport(LOOPBACK, 4)) as client:
            attempt = await post(client, subscription(receiver.url), event, 1, 5.0)
    assert attempt.ok and receiver.accepted == {event.event_id: 1}
