"""A broker refusing a client's credentials or TLS trust: one clear message naming the
principal and the bootstrap address, logged once, kept for the service to act on."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import KafkaError
from pydantic import SecretStr
from structlog.testing import capture_logs

from schemas.connections import KafkaConnection
from schemas.kafka_edge import ClientErrors, KafkaRefused, Refusal, _config, refusal

WRONG_PASSWORD = (
    "sasl_ssl://127.0.0.1:9192/bootstrap: SASL authentication error: Authentication failed "
    "during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512 "
    "(after 316ms in state AUTH_REQ)"
)
UNTRUSTED = (
    "sasl_ssl://127.0.0.1:9192/bootstrap: SSL handshake failed: error:0A000086:SSL routines::"
    "certificate verify failed: broker certificate could not be verified (after 5ms in state "
    "SSL_HANDSHAKE)"
)


def _kafka(protocol: str = "SASL_SSL") -> KafkaConnection:
    return KafkaConnection(
        bootstrap_servers="127.0.0.1:9192",
        security_protocol=protocol,  # type: ignore[arg-type]
        sasl_username="api",
        sasl_password=SecretStr("wrong"),
        ssl_ca_file=Path("/stack/tls/ca.pem"),
    )


def test_a_wrong_password_names_the_principal_and_the_address() -> None:
    found = refusal(_kafka(), KafkaError(KafkaError._AUTHENTICATION, WRONG_PASSWORD))
    assert str(found) == (
        "Kafka refused principal 'api' at 127.0.0.1:9192: "
        "SCRAM authentication failed (wrong password?)"
    )


def test_another_sasl_failure_keeps_librdkafka_s_words() -> None:
    text = "SASL handshake failed (start (-4)): SASL(-4): no mechanism available"
    found = refusal(_kafka(), KafkaError(KafkaError._AUTHENTICATION, text))
    assert found == Refusal("api", "127.0.0.1:9192", f"SASL authentication failed: {text}")


def test_an_untrusted_certificate_names_the_ca_file_and_no_principal_without_sasl() -> None:
    found = refusal(_kafka("SSL"), KafkaError(KafkaError._SSL, UNTRUSTED))
    assert str(found) == (
        "Kafka refused this client at 127.0.0.1:9192: the brokers' TLS certificate is not "
        "signed by the trusted CA (/stack/tls/ca.pem)"
    )


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"),
        (KafkaError._TRANSPORT, "Connection refused"),
        # A handshake cut short by a broker going down: transient, not a refusal.
        (KafkaError._SSL, "SSL handshake failed: Disconnected"),
    ],
)
def test_what_is_not_a_refusal(code: int, text: str) -> None:
    assert refusal(_kafka(), KafkaError(code, text)) is None


def test_a_refusal_is_logged_once_at_error_level_and_kept() -> None:
    seen: list[int] = []
    errors = ClientErrors(_kafka(), also=lambda e: seen.append(e.code()))
    with capture_logs() as logs:
        for _ in range(5):  # librdkafka reports it at every reconnection
            errors(KafkaError(KafkaError._AUTHENTICATION, WRONG_PASSWORD))
        errors(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    assert [(e["log_level"], e["event"][:28]) for e in logs] == [
        ("error", "Kafka refused principal 'api"),
        ("warning", "kafka client error"),
    ]
    assert len(seen) == 6  # the caller's own callback sees every error
    with pytest.raises(KafkaRefused, match="SCRAM authentication failed"):
        errors.raise_if_refused()
    errors.clear()
    errors.raise_if_refused()


def test_every_client_gets_a_client_errors_unless_its_call_site_brings_one() -> None:
    assert isinstance(_config(_kafka())["error_cb"], ClientErrors)
    own = ClientErrors(_kafka())
    assert _config(_kafka(), {"error_cb": own})["error_cb"] is own
