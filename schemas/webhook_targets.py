"""Where a webhook may be delivered: the one policy the admin API, the CLI and the dispatcher
share (``SENTINEL_WEBHOOKS_ALLOW_HTTP``, ``SENTINEL_WEBHOOKS_ALLOWED_NETWORKS``).

A subscriber is somebody else's server on the internet. Loopback, private, link-local,
carrier-grade NAT, unspecified, multicast and every other non-global address (the cloud
metadata endpoint 169.254.169.254 among them) are refused, whatever form the address takes:
IPv6, IPv4-mapped or embedded IPv6, or the shorthand numbers a resolver accepts
(``0x7f000001``, ``2130706433``, ``0177.1``). Names are refused by what they resolve to,
checked again at every connection (``resolve_checked``), so DNS rebinding cannot swap a
checked address for another. An operator opens a network explicitly (the local demo
receiver on loopback) with the allow-list.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

# NAT64 (RFC 6052) carries an IPv4 address in its last 32 bits; Python calls it global.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Deprecated IPv4-compatible IPv6 (::a.b.c.d); some stacks still route it to the IPv4 host.
_V4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_LOCAL_NAMES = ("localhost", "localhost.localdomain")
# This machine, for a receiver on it (the local stack's demo, the test suites' receivers).
LOOPBACK_NETWORKS = "127.0.0.0/8,::1/128"


class TargetRefused(ValueError):
    """A webhook target the policy refuses; the message never holds the URL's userinfo."""


class TargetUnresolvable(ValueError):
    """The host has no address now (the dispatcher retries; registration lets it pass)."""


class WebhookTargetPolicy(BaseSettings):
    """What webhook URLs may point at; read under the same names by the API and dispatcher."""

    model_config = SettingsConfigDict(
        env_prefix="SENTINEL_WEBHOOKS_", frozen=True, extra="ignore", use_attribute_docstrings=True
    )

    allow_http: bool = False
    """Allow plain http webhook URLs. Off: https only, since http sends the signed event (and
    any basic-auth userinfo) in clear. Read by the admin API at registration and by the
    dispatcher at every connection (`make up` writes `true` for its loopback demo receiver;
    docs/ledger.md#where-webhooks-may-go)."""
    allowed_networks: Annotated[tuple[IPNetwork, ...], NoDecode] = ()
    """Comma-separated networks a webhook may reach although they are not global, e.g.
    `127.0.0.0/8,::1/128` for a receiver on this machine (`make up` writes that). Empty: only
    global addresses."""

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            return tuple(ipaddress.ip_network(p, strict=False) for p in parts)
        return value


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL's parts: the host (an address when the URL holds a literal one)."""

    scheme: str
    host: str
    port: int
    address: IPAddress | None


def address_refusal(address: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why `address` may not be reached (a short, fixed phrase), or None when it may."""
    if any(address in network for network in allowed):
        return None
    embedded = _embedded_v4(address)
    if embedded is not None:
        return address_refusal(embedded, allowed)
    # Python 3.11 counts multicast as global; nobody receives webhooks on a group address.
    if address.is_multicast or not address.is_global:
        return "not a public address"
    return None


def _embedded_v4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one is a wrapper around, if any: packets to it reach that."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _V4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address a URL host names literally, read as a browser or resolver reads it
    (``0x7f000001``, ``2130706433``, ``127.1``); None for a name. TargetRefused when the
    host looks like a number but is not a valid address."""
    bare = host.strip("[]").rstrip(".")
    if ":" in bare:
        try:
            return ipaddress.IPv6Address(bare.split("%", 1)[0])
        except ValueError as exc:
            raise TargetRefused("the host is not a valid IPv6 address") from exc
    parts = bare.split(".")
    if not _is_number(parts[-1]):
        return None  # a name: the WHATWG URL rule "ends in a number" decides
    return ipaddress.IPv4Address(_ipv4_value(parts))


def _is_number(label: str) -> bool:
    if label[:2].lower() == "0x":
        return all(c in "0123456789abcdefABCDEF" for c in label[2:])
    return label.isdigit() and label.isascii()


def _ipv4_value(parts: list[str]) -> int:
    """WHATWG's IPv4 parser: up to four parts, decimal, 0x-hex or 0-octal; the last fills
    the bytes the others left."""
    if len(parts) > 4 or not all(_is_number(p) for p in parts):
        raise TargetRefused("the host is not a valid IPv4 address")
    numbers = [_number(p) for p in parts]
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise TargetRefused("the host is not a valid IPv4 address")
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return value


def _number(part: str) -> int:
    if part[:2].lower() == "0x":
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8) if all(c in "01234567" for c in part) else _bad_octal()
    return int(part)


def _bad_octal() -> int:
    raise TargetRefused("the host is not a valid IPv4 address")


def check_url(url: str, policy: WebhookTargetPolicy) -> Target:
    """The checks that need no DNS: scheme, host form, literal and always-local hosts."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused("the URL cannot be parsed") from exc
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in ("http", "https") or not host:
        raise TargetRefused("the URL is not an http(s) URL with a host")
    if scheme == "http" and not policy.allow_http:
        raise TargetRefused("the URL must use https")
    address = literal_address(host)
    if address is not None:
        reason = address_refusal(address, policy.allowed_networks)
        if reason is not None:
            raise TargetRefused(f"the host is {reason}")
    elif host.rstrip(".") in _LOCAL_NAMES or host.rstrip(".").endswith(".localhost"):
        if not policy.allowed_networks:
            raise TargetRefused("the host is not a public address")
    return Target(scheme, host, port or (443 if scheme == "https" else 80), address)


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives `host` (TCP), in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def resolve_checked(
    host: str,
    port: int,
    policy: WebhookTargetPolicy,
    resolver: Resolver = system_resolver,
) -> list[IPAddress]:
    """`host`'s addresses, every one of them allowed; connect to these, never to the name
    (a second lookup could answer differently). TargetRefused if any address is refused."""
    literal = literal_address(host)
    if literal is not None:
        found = [literal]
    else:
        try:
            names = await resolver(host, port)
        except OSError as exc:
            raise TargetUnresolvable("the host does not resolve") from exc
        found = [ipaddress.ip_address(name.split("%", 1)[0]) for name in names]
    if not found:
        raise TargetUnresolvable("the host does not resolve")
    for address in found:
        reason = address_refusal(address, policy.allowed_networks)
        if reason is not None:
            raise TargetRefused(f"the host resolves to {reason}")
    return found


def redact(url: str) -> str:
    """`url` without its userinfo (``user:password@`` becomes ``***@``): safe to show."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))
