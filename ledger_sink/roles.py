"""The database roles the services run as: NOLOGIN groups and the login roles in them.

The groups and their grants are the migrations' (``20261205_0100``); roles are cluster-wide,
so a migration role without CREATEROLE needs them created first, by a superuser:
`sentinel db roles` (the local stack runs it before `sentinel db migrate`). It also creates
one LOGIN role per service whose DSN is configured (``SENTINEL_POSTGRES_SINK_DSN`` ...),
with that DSN's user and password, member of the service's group and of nothing else.
Each service process then gets its own DSN as ``SENTINEL_POSTGRES_DSN``.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# The same names as the migration (which may not import project code; a test compares them).
SINK, API, LABELS, WEBHOOKS, READER = (
    "sentinel_sink",
    "sentinel_api",
    "sentinel_labels",
    "sentinel_webhooks",
    "sentinel_reader",
)
# The analyst console's group: migration 20261205_0300 (ADR 0006).
CONSOLE = "sentinel_console"
# The rules outbox relay's group: migration 20261205_0800.
RULES_RELAY = "sentinel_rules_relay"
GROUPS = (SINK, API, LABELS, WEBHOOKS, READER, CONSOLE, RULES_RELAY)


class RuntimeRoles(BaseSettings):
    """One optional DSN per service (``SENTINEL_POSTGRES_<SERVICE>_DSN``): `sentinel db roles`
    creates its login role, with the DSN's user and password, in the service's group; give
    that service this DSN as `SENTINEL_POSTGRES_DSN` (docs/ledger.md#database-roles)."""

    model_config = SettingsConfigDict(
        env_prefix="SENTINEL_POSTGRES_", frozen=True, extra="ignore", use_attribute_docstrings=True
    )

    sink_dsn: SecretStr | None = None
    """The login role of the decision sink (`sentinel sink run`), in the group `sentinel_sink`."""
    api_dsn: SecretStr | None = None
    """The login role of the ingest API, in the group `sentinel_api`."""
    labels_dsn: SecretStr | None = None
    """The login role of the labels sink, in the group `sentinel_labels`."""
    webhooks_dsn: SecretStr | None = None
    """The login role of the webhook dispatcher, in the group `sentinel_webhooks`."""
    reader_dsn: SecretStr | None = None
    """The login role of the readers (`sentinel ledger verify`, replay, the merchant-risk
    job), in the group `sentinel_reader` (SELECT only)."""
    console_dsn: SecretStr | None = None
    """The login role of the analyst console, in the group `sentinel_console`."""
    rules_relay_dsn: SecretStr | None = None
    """The login role of the rules relay (`sentinel rules relay`), in the group
    `sentinel_rules_relay`."""

    def logins(self) -> list[Login]:
        """The login roles these DSNs name, each with its group."""
        pairs = (
            (SINK, self.sink_dsn),
            (API, self.api_dsn),
            (LABELS, self.labels_dsn),
            (WEBHOOKS, self.webhooks_dsn),
            (READER, self.reader_dsn),
            (CONSOLE, self.console_dsn),
            (RULES_RELAY, self.rules_relay_dsn),
        )
        return [login_of(group, dsn.get_secret_value()) for group, dsn in pairs if dsn]


@dataclass(frozen=True, slots=True)
class Login:
    group: str
    user: str
    password: str

    def __repr__(self) -> str:  # never the password, in logs or tracebacks
        return f"Login(group={self.group!r}, user={self.user!r})"


def login_of(group: str, dsn: str) -> Login:
    """The login role `dsn` connects as, for `group`; a DSN without user or password is refused."""
    parts = conninfo_to_dict(dsn)
    user, password = parts.get("user"), parts.get("password")
    if not user or not password:
        raise ValueError(f"the DSN for {group} must name a user and a password")
    if user in GROUPS:
        raise ValueError(f"the login role for {group} must not be the group itself")
    return Login(group, str(user), str(password))


def ensure_groups(conn: psycopg.Connection) -> list[str]:
    """Create the missing NOLOGIN groups (the caller needs CREATEROLE); those it created."""
    created = []
    for group in GROUPS:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (group,)).fetchone():
            continue
        try:
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(group)))
            created.append(group)
        except psycopg.errors.DuplicateObject:
            pass  # another migrator created it meanwhile
    return created


def ensure_login(conn: psycopg.Connection, login: Login) -> None:
    """Create or update `login`: LOGIN, its password, in its group, no other attribute."""
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login.user,)).fetchone()
    verb = "ALTER" if exists else "CREATE"
    # NOSUPERUSER etc. are the defaults; saying them undoes an earlier, wider role.
    conn.execute(
        sql.SQL(
            verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD {}"
        ).format(sql.Identifier(login.user), sql.Literal(login.password))
    )
    conn.execute(
        sql.SQL("GRANT {} TO {}").format(sql.Identifier(login.group), sql.Identifier(login.user))
    )


def provision(admin_dsn: str, roles: RuntimeRoles) -> tuple[list[str], list[Login]]:
    """Groups, then configured login roles, as the superuser at `admin_dsn` (idempotent)."""
    logins = roles.logins()
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        created = ensure_groups(conn)
        for login in logins:
            ensure_login(conn, login)
    return created, logins
