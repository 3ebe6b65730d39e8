"""The one Kafka edge: no client is built anywhere else, and every security protocol reaches
librdkafka and faust alike.

What counts as building a client: a call of ``Producer``, ``Consumer``, ``AdminClient``,
``AIOKafkaProducer`` or ``AIOKafkaConsumer`` (by name or as an attribute, e.g.
``confluent_kafka.Producer(...)``), or an import of one under another name. Subclassing is
not building: ``stream_agents/faust_edge.py`` subclasses faust's consumer and consumer
thread, and faust itself builds their aiokafka clients, from the app's
``broker_credentials`` (``schemas.kafka_edge.faust_credentials``).
"""

from __future__ import annotations

import ast
import ssl
from pathlib import Path

import certifi
import faust
import pytest
from pydantic import SecretStr

from schemas.connections import KafkaConnection
from schemas.kafka_edge import (
    PRODUCER_DEFAULTS,
    RawRecord,
    admin,
    client_config,
    consumer,
    decode_headers,
    faust_credentials,
    producer,
)
from tests.support.sources import project_sources

ROOT = Path(__file__).resolve().parents[3]
EDGE = Path("schemas/kafka_edge.py")
CLIENTS = frozenset({"Producer", "Consumer", "AdminClient", "AIOKafkaProducer", "AIOKafkaConsumer"})


def _called_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _constructions(source: str) -> list[tuple[int, str]]:
    """(line, what) for every client built, or imported under another name, in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _called_name(node) in CLIENTS:
            found.append((node.lineno, f"{_called_name(node)}(...)"))
        elif isinstance(node, ast.ImportFrom):
            renamed = [a for a in node.names if a.name in CLIENTS and a.asname]
            found += [(node.lineno, f"import {a.name} as {a.asname}") for a in renamed]
    return found


def test_no_kafka_client_is_built_outside_the_edge() -> None:
    files = project_sources()
    assert EDGE in files and Path("stream_agents/faust_edge.py") in files  # the scan sees them
    offending = [
        f"{path}:{line}: {what}"
        for path in files
        if path != EDGE
        for line, what in _constructions((ROOT / path).read_text(encoding="utf-8"))
    ]
    assert offending == [], "build Kafka clients with schemas.kafka_edge:\n" + "\n".join(offending)


def test_the_scan_catches_calls_attributes_and_renamed_imports() -> None:
    source = (
        "import confluent_kafka\n"
        "from confluent_kafka import Producer as P\n"
        "a = confluent_kafka.Consumer({})\n"
        "b = AdminClient({})\n"
        "class Mine(faust_aiokafka.Consumer):\n"  # subclassing: not a construction
        "    pass\n"
        "# Producer( in a comment, 'Consumer(' in a string\n"
        "c = 'Consumer('\n"
    )
    assert _constructions(source) == [
        (2, "import Producer as P"),
        (3, "Consumer(...)"),
        (4, "AdminClient(...)"),
    ]


def _kafka(protocol: str, ca: bool = True) -> KafkaConnection:
    return KafkaConnection(
        bootstrap_servers="broker-1:9094,broker-2:9094",
        security_protocol=protocol,  # type: ignore[arg-type]
        sasl_username="sentinel-api",
        sasl_password=SecretStr("s3cret"),
        ssl_ca_file=Path(certifi.where()) if ca else None,
    )


def test_plaintext_sets_only_the_brokers_and_no_faust_credentials() -> None:
    kafka = _kafka("PLAINTEXT")
    assert client_config(kafka) == {
        "bootstrap.servers": "broker-1:9094,broker-2:9094",
        "security.protocol": "plaintext",
    }
    assert faust_credentials(kafka) is None


def test_ssl_verifies_the_brokers_against_the_ca_file() -> None:
    kafka = _kafka("SSL")
    config = client_config(kafka)
    assert config["security.protocol"] == "ssl"
    assert config["ssl.ca.location"] == certifi.where()
    assert not any(k.startswith("sasl.") for k in config)
    credentials = faust_credentials(kafka)
    assert isinstance(credentials, faust.SSLCredentials)
    assert credentials.context.verify_mode == ssl.CERT_REQUIRED
    assert credentials.context.check_hostname


def test_ssl_without_a_ca_file_trusts_the_system_store() -> None:
    kafka = _kafka("SSL", ca=False)
    assert "ssl.ca.location" not in client_config(kafka)
    assert isinstance(faust_credentials(kafka), faust.SSLCredentials)


def test_sasl_plaintext_authenticates_without_tls() -> None:
    kafka = _kafka("SASL_PLAINTEXT")
    config = client_config(kafka)
    assert config["security.protocol"] == "sasl_plaintext"
    assert (config["sasl.mechanism"], config["sasl.username"], config["sasl.password"]) == (
        "SCRAM-SHA-512",
        "sentinel-api",
        "s3cret",
    )
    assert "ssl.ca.location" not in config  # no TLS: a CA file would mean nothing
    credentials = faust_credentials(kafka)
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.username, credentials.password) == ("sentinel-api", "s3cret")
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert credentials.protocol.value == "SASL_PLAINTEXT"
    assert credentials.ssl_context is None


def test_sasl_ssl_authenticates_over_tls() -> None:
    kafka = _kafka("SASL_SSL")
    config = client_config(kafka)
    assert config["security.protocol"] == "sasl_ssl"
    assert config["sasl.username"] == "sentinel-api"
    assert config["ssl.ca.location"] == certifi.where()
    credentials = faust_credentials(kafka)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL"
    assert credentials.ssl_context is not None


@pytest.mark.parametrize(
    "override", ["bootstrap.servers", "security.protocol", "sasl.password", "ssl.ca.location"]
)
def test_no_call_site_may_set_the_connection_or_its_security(override: str) -> None:
    kafka = _kafka("SASL_SSL")
    with pytest.raises(ValueError, match="KafkaConnection"):
        producer(kafka, **{override: "elsewhere"})
    with pytest.raises(ValueError, match="KafkaConnection"):
        consumer(kafka, "group", **{override: "elsewhere"})
    with pytest.raises(ValueError, match="KafkaConnection"):
        admin(kafka, **{override: "elsewhere"})


def test_every_producer_is_idempotent_acks_all_murmur2() -> None:
    assert PRODUCER_DEFAULTS == {
        "enable.idempotence": True,
        "acks": "all",
        "partitioner": "murmur2_random",
    }


def test_headers_decode_to_bytes_by_name_whichever_client_read_them() -> None:
    expected = {"tx": b"t-1", "empty": b"", "text": b"caf\xc3\xa9"}
    librdkafka = [("tx", b"t-1"), ("empty", None), ("text", "café")]
    assert decode_headers(librdkafka) == expected
    assert decode_headers(tuple(librdkafka)) == expected  # aiokafka
    assert decode_headers(dict(librdkafka)) == expected
    assert decode_headers(None) == {} == decode_headers([])


def test_a_raw_record_reads_a_header_as_text() -> None:
    record = RawRecord("t", 0, 1, None, b"v", {"a": b"x", "bad": b"\xff"})
    assert (record.header("a"), record.header("bad"), record.header("none")) == (
        "x",
        "\ufffd",
        None,
    )
