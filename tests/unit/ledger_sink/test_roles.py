"""The runtime roles' names and their login DSNs (no database: see the integration suite)."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from ledger_sink import migrate, roles
from ledger_sink.roles import RuntimeRoles, login_of

MIGRATION = "20261205_0100_runtime_roles_and_append_only.py"
CONSOLE_MIGRATION = "20261205_0300_console_users_and_audit.py"
RELAY_MIGRATION = "20261205_0800_rule_publications.py"


def _migration(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(
        name.removesuffix(".py"),
        f"{migrate.__file__.rsplit('/', 1)[0]}/migrations/versions/{name}",
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migrations_grant_to_exactly_the_groups_the_cli_creates() -> None:
    module, console = _migration(MIGRATION), _migration(CONSOLE_MIGRATION)
    relay = _migration(RELAY_MIGRATION)
    assert (*module.GROUPS, console.GROUP, relay.GROUP) == roles.GROUPS
    granted = {role for role, _, _ in module.GRANTS} | {console.GROUP, relay.GROUP}
    assert granted == set(roles.GROUPS)


def test_a_configured_dsn_names_a_login_in_its_group_and_never_shows_its_password() -> None:
    configured = RuntimeRoles(
        sink_dsn="postgresql://svc_sink:s3cret-pw@127.0.0.1:5433/sentinel",  # type: ignore[arg-type]
        reader_dsn="postgresql://svc_read:other-pw@127.0.0.1:5433/sentinel",  # type: ignore[arg-type]
    )
    logins = configured.logins()
    assert [(x.group, x.user, x.password) for x in logins] == [
        (roles.SINK, "svc_sink", "s3cret-pw"),
        (roles.READER, "svc_read", "other-pw"),
    ]
    assert "s3cret" not in repr(logins)


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://svc@127.0.0.1/sentinel",  # no password
        "postgresql://sentinel_sink:pw@127.0.0.1/sentinel",  # the group itself
    ],
)
def test_a_login_needs_its_own_user_and_a_password(dsn: str) -> None:
    with pytest.raises(ValueError, match="sentinel_sink"):
        login_of(roles.SINK, dsn)
