"""The local broker's rendered security: the SASL_SSL listener, the authorizer, the dev
listener and how the stack removes it."""

from __future__ import annotations

from pathlib import Path

from deploy.local.kafka import render_server_properties
from deploy.local.kafka_security import (
    AUTHORIZER,
    BrokerSecurity,
    client_env,
    password_var,
    principal_connection,
    tls_files,
)
from deploy.local.settings import StackSettings
from schemas.connections import KafkaConnection


def props(security: BrokerSecurity, settings: StackSettings | None = None) -> dict[str, str]:
    text = render_server_properties(settings or StackSettings(), Path("/data/kafka"), security)
    return dict(line.split("=", 1) for line in text.splitlines())


def security(dev_listener: bool = True) -> BrokerSecurity:
    return BrokerSecurity(tls_files(Path("/s")), "key-pw", "admin", "admin-pw", dev_listener)


def test_sasl_ssl_listener_beside_the_dev_listener_with_the_authorizer() -> None:
    conf = props(security())
    assert conf["listeners"] == (
        "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093,SASL_SSL://127.0.0.1:9094"
    )
    assert conf["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9094"
    assert conf["listener.security.protocol.map"].endswith(",SASL_SSL:SASL_SSL")
    assert conf["authorizer.class.name"] == AUTHORIZER
    assert conf["allow.everyone.if.no.acl.found"] == "false"
    assert conf["super.users"] == "User:ANONYMOUS;User:admin"
    assert conf["listener.name.sasl_ssl.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert conf["listener.name.sasl_ssl.ssl.keystore.type"] == "PEM"
    assert (
        conf["listener.name.sasl_ssl.ssl.keystore.location"] == "/s/kafka/tls/broker-keystore.pem"
    )
    assert conf["inter.broker.listener.name"] == "PLAINTEXT"


def test_without_the_dev_listener_brokers_talk_sasl_ssl_as_admin() -> None:
    conf = props(security(dev_listener=False))
    assert "PLAINTEXT://" not in conf["listeners"]
    assert conf["advertised.listeners"] == "SASL_SSL://127.0.0.1:9094"
    assert conf["inter.broker.listener.name"] == "SASL_SSL"
    assert 'username="admin"' in conf["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]


def test_the_sasl_port_is_a_stack_setting() -> None:
    settings = StackSettings(
        kafka=KafkaConnection(bootstrap_servers="127.0.0.1:29092"), kafka_sasl_ssl_port=29094
    )
    assert props(security(), settings)["advertised.listeners"].endswith(
        "SASL_SSL://127.0.0.1:29094"
    )


def test_a_service_env_reads_back_as_its_connection() -> None:
    connection = principal_connection("api", "pw", tls_files(Path("/s")), "127.0.0.1", 9094)
    env = client_env(connection)
    assert env["SENTINEL_KAFKA_SSL_CA_FILE"] == "/s/kafka/tls/ca.pem"
    read = KafkaConnection(
        **{k.removeprefix("SENTINEL_KAFKA_").lower(): v for k, v in env.items()}  # type: ignore[arg-type]
    )
    assert read == connection
    assert password_var("merchant-risk") == "SENTINEL_STACK_KAFKA_PASSWORD_MERCHANT_RISK"
