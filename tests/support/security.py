"""The stack's own SASL_SSL listener for a test: every principal's password from the
stack's env file and the ACL table applied for the test's topic prefix (removed after).

Imported by the conftest of each suite that runs clients as principals (the integration
suite's ``secure_stack``, the end-to-end suite's secure pipeline)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from deploy import acls
from deploy.acls import PRINCIPALS
from deploy.local import envfile, kafka_security
from deploy.local.pipeline import principal_of
from deploy.local.settings import StackSettings
from schemas import kafka_edge
from schemas.connections import KafkaConnection
from schemas.topics import TopicSpec


@dataclass(frozen=True)
class SecureStack:
    """Who may connect to the stack's SASL_SSL listener, and as what."""

    settings: StackSettings
    passwords: dict[str, str]
    prefix: str

    def connection(self, principal: str, password: str | None = None) -> KafkaConnection:
        connection = kafka_security.principal_connection(
            self.settings, principal, self.passwords[principal] if password is None else password
        )
        return connection.model_copy(update={"topic_prefix": self.prefix})

    def service_env(self, service: str, password: str | None = None) -> dict[str, str]:
        """The ``SENTINEL_KAFKA_*`` a service of ``make up`` (``api``, ``agent-1``, ``sink``,
        ``webhooks``...) runs with: its principal's (``deploy.local.pipeline``), this
        test's prefix."""
        principal = principal_of(service)
        if principal is None:
            raise ValueError(f"{service!r} runs as no principal")
        connection = self.connection(principal, password)
        return {
            **kafka_security.client_env(connection),
            "SENTINEL_KAFKA_TOPIC_PREFIX": self.prefix,
        }


def stack_settings() -> tuple[StackSettings, dict[str, str]]:
    """The running stack's settings (its SASL_SSL port) and its env file's values."""
    # The stack's own directory and file: the suites run with SENTINEL_ENV_FILE empty.
    values = envfile.file_values(StackSettings().dir / "sentinel.env")
    port = values.get("SENTINEL_STACK_KAFKA_SASL_SSL_PORT")
    settings = StackSettings(kafka_sasl_ssl_port=int(port)) if port else StackSettings()
    if not kafka_security.tls_files(settings.dir).complete():
        pytest.fail(f"no TLS files under {settings.dir}: `sentinel stack up` makes them")
    return settings, values


@contextmanager
def secured(prefix: str) -> Iterator[SecureStack]:
    """The running stack's SASL_SSL listener (not a broker of its own), with the ACL table
    applied for ``prefix`` until the block ends."""
    settings, values = stack_settings()
    missing = [p for p in PRINCIPALS if kafka_security.password_var(p) not in values]
    if missing:
        pytest.fail(f"no passwords for {missing} in the stack's env file: `sentinel stack up`")
    users = kafka_security.passwords(values, PRINCIPALS)
    # Through the dev listener: its ANONYMOUS principal is a super user.
    admin = kafka_edge.admin(KafkaConnection())
    acls.apply(admin, prefix)
    try:
        yield SecureStack(settings, users, prefix)
    finally:
        acls.remove(admin, prefix)


@pytest.fixture
def secure_stack(project_topics: dict[str, TopicSpec], unique: str) -> Iterator[SecureStack]:
    """This test's topics (``project_topics``) on the stack's SASL_SSL listener, with the
    ACL table applied for its prefix."""
    with secured(f"test-{unique}.") as stack:
        yield stack
