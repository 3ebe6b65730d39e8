"""The stack's own SASL_SSL listener, with the ACL table applied for the test's prefix."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from confluent_kafka.admin import AdminClient

from deploy import acls
from deploy.acls import PRINCIPALS
from deploy.local import envfile, kafka_security
from deploy.local.settings import StackSettings
from schemas.connections import KafkaConnection
from schemas.kafka_edge import client_config
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


@pytest.fixture
def secure_stack(project_topics: dict[str, TopicSpec], unique: str) -> Iterator[SecureStack]:
    """The running stack's SASL_SSL listener (not a broker of its own) and every principal's
    password from its env file; the ACL table applied for this test's topic prefix."""
    # The stack's own directory and file: the suites run with SENTINEL_ENV_FILE empty.
    values = envfile.file_values(StackSettings().dir / "sentinel.env")
    port = values.get("SENTINEL_STACK_KAFKA_SASL_SSL_PORT")
    settings = StackSettings(kafka_sasl_ssl_port=int(port)) if port else StackSettings()
    if not kafka_security.tls_files(settings.dir).complete():
        pytest.fail(f"no TLS files under {settings.dir}: `sentinel stack up` makes them")
    missing = [p for p in PRINCIPALS if kafka_security.password_var(p) not in values]
    if missing:
        pytest.fail(f"no passwords for {missing} in the stack's env file: `sentinel stack up`")
    users = kafka_security.passwords(values, PRINCIPALS)
    prefix = f"test-{unique}."
    # Through the dev listener: its ANONYMOUS principal is a super user.
    admin = AdminClient(client_config(KafkaConnection()))
    acls.apply(admin, prefix)
    yield SecureStack(settings, users, prefix)
    acls.remove(admin, prefix)
