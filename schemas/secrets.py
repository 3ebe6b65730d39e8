"""The default-secret guard: no shipped password or pepper once a host is not loopback.

The defaults (`sentinel:sentinel`, `postgres:postgres`, a Redis without a password, the
pepper `sentinel-local-pepper`) keep a fresh checkout running with no configuration. They are
public, so they are safe only while every server the process reaches, and the address it
listens on, are this machine's. Every service and every command that connects calls
`refuse_default_secrets` with the settings it runs with before it connects.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from psycopg.conninfo import conninfo_to_dict
from pydantic import BaseModel

from schemas.connections import KafkaConnection, PostgresConnection, RedisConnection
from schemas.errors import SchemaError

DEFAULT_PEPPER = "sentinel-local-pepper"  # noqa: S105 - the public default this guard refuses
# The passwords of PostgresConnection's default DSNs (application role and superuser).
DEFAULT_POSTGRES_PASSWORDS = frozenset({"sentinel", "postgres"})


class DefaultSecretError(SchemaError):
    """A default secret configured while a host is not loopback: refuse to start."""

    code = "default_secret"


@dataclass(frozen=True, slots=True)
class Secret:
    """One secret a process uses: the variable that sets it and whether it is a default."""

    setting: str
    is_default: bool


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine ("0.0.0.0" and "::" are not).

    A Unix socket path (PostgreSQL's ``host=/run/postgresql``) is local too.
    """
    host = host.strip().strip("[]")
    if host.lower() == "localhost" or host.startswith("/"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # another host name: it may resolve anywhere


def kafka_hosts(bootstrap_servers: str) -> list[str]:
    """The hosts of a bootstrap list (``host:port``, ``[::1]:9092`` or ``PLAINTEXT://h:p``)."""
    hosts = []
    for server in filter(None, (s.strip() for s in bootstrap_servers.split(","))):
        parts = urlsplit(server if "//" in server else f"//{server}")
        hosts.append(parts.hostname or server)
    return hosts


def postgres_parts(dsn: str) -> tuple[list[str], str | None]:
    """The hosts and the password of a libpq DSN (URL or ``key=value`` form).

    No host means libpq's ``PGHOST`` or its local socket; no password may mean a
    ``.pgpass`` file, ``PGPASSWORD`` or a client certificate: none of them a shipped default.
    """
    params = conninfo_to_dict(dsn)
    hosts = str(params.get("host") or os.environ.get("PGHOST") or "/local-socket")
    password = params.get("password")
    return hosts.split(","), None if password is None else str(password)


def redis_parts(url: str) -> tuple[str, str | None]:
    """The host and the password of a Redis URL (userinfo or a ``password=`` query), the
    password decoded as redis-py reads it."""
    parts = urlsplit(url)
    password = unquote(parts.password or "") or parse_qs(parts.query).get("password", [None])[0]
    if parts.scheme == "unix":
        return "/unix-socket", password or None
    return parts.hostname or "localhost", password or None


def connection_hosts(connection: BaseModel) -> list[str]:
    """Every host a shared connection setting points at."""
    if isinstance(connection, KafkaConnection):
        return kafka_hosts(connection.bootstrap_servers)
    if isinstance(connection, PostgresConnection):
        return postgres_parts(connection.dsn.get_secret_value())[0]
    if isinstance(connection, RedisConnection):
        return [redis_parts(connection.url.get_secret_value())[0]]
    return []


def connection_secrets(connection: BaseModel, *, admin: bool = False) -> list[Secret]:
    """The secrets a shared connection setting carries (the superuser DSN only if ``admin``)."""
    if isinstance(connection, PostgresConnection):
        dsns = [("SENTINEL_POSTGRES_DSN", connection.dsn)]
        if admin:
            dsns.append(("SENTINEL_POSTGRES_ADMIN_DSN", connection.admin_dsn))
        return [
            Secret(name, postgres_parts(dsn.get_secret_value())[1] in DEFAULT_POSTGRES_PASSWORDS)
            for name, dsn in dsns
        ]
    if isinstance(connection, RedisConnection):
        password = redis_parts(connection.url.get_secret_value())[1]
        return [Secret("SENTINEL_REDIS_URL", password is None)]
    return []  # Kafka: its security settings are the cluster's, with no shipped default


def pepper_secret(setting: str, pepper: str) -> Secret:
    """The API-key pepper: default when it is the shipped one or empty."""
    return Secret(setting, pepper in {DEFAULT_PEPPER, ""})


def default_secret_problem(hosts: Iterable[str], secrets: Iterable[Secret]) -> str | None:
    """Why the configuration must not start, or None: a default secret with a remote host."""
    remote = sorted({h for h in hosts if not is_loopback(h)})
    defaults = sorted({s.setting for s in secrets if s.is_default})
    if not remote or not defaults:
        return None
    return (
        f"refusing to start: {', '.join(defaults)} still "
        f"{'hold' if len(defaults) > 1 else 'holds'} a default secret (a shipped password or "
        f"pepper, or a Redis without a password) while {', '.join(remote)} "
        f"{'are' if len(remote) > 1 else 'is'} not a loopback address; set "
        f"{'them' if len(defaults) > 1 else 'it'} to a secret of your own "
        "(defaults are allowed only when every host is this machine's)"
    )


def refuse_default_secrets(
    *connections: BaseModel,
    bind_hosts: Iterable[str] = (),
    secrets: Iterable[Secret] = (),
    admin: bool = False,
) -> None:
    """Raise `DefaultSecretError` if a secret these connections (or ``secrets``) use is a
    default while any of their hosts, or an address the process listens on, is not loopback."""
    hosts = [h for c in connections for h in connection_hosts(c)] + list(bind_hosts)
    found = [s for c in connections for s in connection_secrets(c, admin=admin)] + list(secrets)
    problem = default_secret_problem(hosts, found)
    if problem is not None:
        raise DefaultSecretError(problem)
