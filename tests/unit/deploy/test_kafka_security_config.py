"""The local broker's rendered security: the SASL_SSL listener, the authorizer, the dev
listener and how the stack removes it."""

from __future__ import annotations

from pathlib import Path

from deploy.local.kafka_cluster import cluster_nodes, node_properties, with_brokers
from deploy.local.kafka_security import (
    AUTHORIZER,
    BrokerSecurity,
    broker_properties,
    client_env,
    known_passwords,
    password_var,
    passwords,
    principal_connection,
    tls_files,
)
from deploy.local.settings import StackSettings
from schemas.connections import KafkaConnection


def props(
    security: BrokerSecurity, settings: StackSettings | None = None, node_id: int = 1
) -> dict[str, str]:
    """Node ``node_id``'s properties as KafkaService.prepare renders them."""
    settings = settings or StackSettings()
    nodes = cluster_nodes(settings)
    node = nodes[node_id - 1]
    plain = node_properties(settings, node, nodes, Path("/data/kafka"))
    return broker_properties(plain, security, node.host, node.sasl_port)


def security(dev_listener: bool = True) -> BrokerSecurity:
    return BrokerSecurity(tls_files(Path("/s")), "key-pw", "admin", "admin-pw", dev_listener)


def test_sasl_ssl_listener_beside_the_dev_listener_with_the_authorizer() -> None:
    conf = props(security())
    assert conf["listeners"] == (
        "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093,SASL_SSL://127.0.0.1:9192"
    )
    assert conf["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9192"
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
    assert conf["advertised.listeners"] == "SASL_SSL://127.0.0.1:9192"
    assert conf["inter.broker.listener.name"] == "SASL_SSL"
    assert 'username="admin"' in conf["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]


def test_the_sasl_port_is_a_stack_setting() -> None:
    settings = StackSettings(
        kafka=KafkaConnection(bootstrap_servers="127.0.0.1:29092"), kafka_sasl_ssl_port=29094
    )
    assert props(security(), settings)["advertised.listeners"].endswith(
        "SASL_SSL://127.0.0.1:29094"
    )


def test_each_node_of_a_cluster_has_its_own_sasl_port() -> None:
    settings = with_brokers(StackSettings(), 3)
    listeners = [props(security(), settings, n)["advertised.listeners"] for n in (1, 2, 3)]
    assert [text.split(",")[-1] for text in listeners] == [
        "SASL_SSL://127.0.0.1:9192",
        "SASL_SSL://127.0.0.1:9194",
        "SASL_SSL://127.0.0.1:9196",
    ]
    connection = principal_connection(settings, "api", "pw")
    assert connection.bootstrap_servers == "127.0.0.1:9192,127.0.0.1:9194,127.0.0.1:9196"


def test_a_service_env_reads_back_as_its_connection() -> None:
    connection = principal_connection(StackSettings(dir=Path("/s")), "api", "pw")
    env = client_env(connection)
    assert env["SENTINEL_KAFKA_SSL_CA_FILE"] == "/s/kafka/tls/ca.pem"
    read = KafkaConnection(
        **{k.removeprefix("SENTINEL_KAFKA_").lower(): v for k, v in env.items()}  # type: ignore[arg-type]
    )
    assert read == connection
    assert password_var("merchant-risk") == "SENTINEL_STACK_KAFKA_PASSWORD_MERCHANT_RISK"


def test_only_kept_passwords_are_given_to_the_brokers() -> None:
    """`stack up` without the env file knows no principal's password: it must leave the
    brokers' credentials alone, not replace them with ones nobody kept."""
    values = {password_var("api"): "kept", password_var("sink"): ""}
    assert known_passwords(values, ["api", "sink", "agents"]) == {"api": "kept"}
    # A client still gets a password for each (an unknown one is refused, clearly).
    assert set(passwords(values, ["api", "sink"])) == {"api", "sink"}
