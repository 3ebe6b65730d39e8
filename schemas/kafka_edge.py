"""The one Kafka edge: how every service's Kafka clients are configured and built.

Security (TLS, SASL/SCRAM) reaches every client from one ``KafkaConnection`` through the
functions here: ``client_config`` for librdkafka (confluent-kafka producers, consumers and
the admin client) and ``faust_credentials`` for the agents' faust app (aiokafka).
No other module sets ``bootstrap.servers`` or a security option.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from schemas.connections import KafkaConnection

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT


def client_config(kafka: KafkaConnection) -> dict[str, Any]:
    """librdkafka's connection settings: where the brokers are and how to authenticate."""
    config: dict[str, Any] = {
        "bootstrap.servers": kafka.bootstrap_servers,
        "security.protocol": kafka.security_protocol.lower(),
    }
    if kafka.uses_sasl:
        config["sasl.mechanism"] = kafka.sasl_mechanism
        config["sasl.username"] = kafka.sasl_username
        config["sasl.password"] = kafka.sasl_password.get_secret_value()
    if kafka.uses_tls and kafka.ssl_ca_file is not None:
        config["ssl.ca.location"] = str(kafka.ssl_ca_file)
    return config


def ssl_context(kafka: KafkaConnection) -> ssl.SSLContext | None:
    """A TLS context that verifies the brokers against ``ssl_ca_file`` (None without TLS)."""
    if not kafka.uses_tls:
        return None
    cafile = str(kafka.ssl_ca_file) if kafka.ssl_ca_file is not None else None
    return ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH, cafile=cafile)


def faust_credentials(kafka: KafkaConnection) -> CredentialsT | None:
    """faust's ``broker_credentials`` (its public API) for the same settings as
    ``client_config``; None for PLAINTEXT. faust hands them to aiokafka."""
    import faust  # only the agents use faust; other services need not import it

    context = ssl_context(kafka)
    if kafka.uses_sasl:
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password.get_secret_value(),
            ssl_context=context,
            mechanism=kafka.sasl_mechanism,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None
