"""The local stack's own passwords: generated once per checkout, never the shipped defaults.

`sentinel stack up` replaces each default secret it would run with (the passwords of
``sentinel:sentinel@`` and ``postgres:postgres@``, a Redis without one: the same test as
``schemas.secrets``) by a random one, before any server is given it, and keeps it in
``.stack/sentinel.env``; later runs read it back from there, so it stays the same across
``stack down`` / ``stack up``. A value set in the environment (not read from the file) is
the user's own choice and is left alone.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import SecretStr

from deploy.local.settings import StackSettings
from schemas.connections import PostgresConnection, RedisConnection
from schemas.secrets import connection_secrets

POSTGRES_DSN, POSTGRES_ADMIN_DSN, REDIS_URL = (
    "SENTINEL_POSTGRES_DSN",
    "SENTINEL_POSTGRES_ADMIN_DSN",
    "SENTINEL_REDIS_URL",
)


def new_password() -> str:
    """32 random bytes, URL-safe: no quoting needed in a DSN, a URL or redis.conf."""
    return secrets.token_urlsafe(32)


def dsn_with_password(dsn: str, password: str) -> str:
    """``dsn`` with its password replaced, in the form it was written (URL or key=value)."""
    if "://" not in dsn:
        return make_conninfo(dsn, password=password)
    parts = urlsplit(dsn)
    user = quote(parts.username or str(conninfo_to_dict(dsn).get("user") or ""), safe="")
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{user}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def redis_url_with_password(url: str, password: str) -> str:
    """``url`` authenticating as Redis's default user with ``password``.

    The user is named (``default``), not left empty: ``redis-cli -u`` would send an empty
    user name, which Redis refuses; redis-py and Redis 6+ take either."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "password"]
        # By hand: urlunsplit would drop the empty authority (unix:///path -> unix:/path).
        return f"unix://{parts.path}?{urlencode([*query, ('password', password)])}"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"default:{quote(password, safe='')}@{host}"))


def _explicit(name: str, file_values: Mapping[str, str], environ: Mapping[str, str]) -> bool:
    """Whether the user set ``name`` in the environment (it differs from the file's line)."""
    return name in environ and environ[name] != file_values.get(name)


def generate(
    settings: StackSettings, file_values: Mapping[str, str], environ: Mapping[str, str]
) -> tuple[StackSettings, list[str]]:
    """The settings with a new password for each default secret that came from no user's
    choice, and the names of the variables that got one."""
    defaults = {
        s.setting
        for s in connection_secrets(settings.postgres, admin=True)
        + connection_secrets(settings.redis)
        if s.is_default and not _explicit(s.setting, file_values, environ)
    }
    if not defaults:
        return settings, []
    dsn = settings.postgres.dsn.get_secret_value()
    admin = settings.postgres.admin_dsn.get_secret_value()
    url = settings.redis.url.get_secret_value()
    if POSTGRES_DSN in defaults:
        dsn = dsn_with_password(dsn, new_password())
    if POSTGRES_ADMIN_DSN in defaults:
        admin = dsn_with_password(admin, new_password())
    if REDIS_URL in defaults:
        url = redis_url_with_password(url, new_password())
    update = {
        "postgres": PostgresConnection(dsn=SecretStr(dsn), admin_dsn=SecretStr(admin)),
        "redis": RedisConnection(url=SecretStr(url)),
    }
    return settings.model_copy(update=update), sorted(defaults)
