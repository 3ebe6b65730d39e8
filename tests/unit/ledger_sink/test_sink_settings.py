"""The services' settings: read from their own prefixes, composing the shared connections."""

from __future__ import annotations

import pytest

from ledger_sink.settings import SinkSettings
from ledger_sink.webhooks.settings import WebhookSettings


def test_sink_settings_come_from_sentinel_sink_and_the_shared_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SENTINEL_SINK_BATCH_SIZE", "64")
    monkeypatch.setenv("SENTINEL_KAFKA_TOPIC_PREFIX", "env7.")
    monkeypatch.setenv("SENTINEL_POSTGRES_DSN", "postgresql://u:p@db:5432/x")
    settings = SinkSettings()
    assert settings.batch_size == 64
    assert settings.decisions_topic == "env7.decisions"
    assert settings.dead_letter_topic == "env7.dead-letter"
    assert settings.consumer_group == "env7.ledger-sink"
    assert settings.metrics_port is None  # off unless asked for
    assert "p@db" not in repr(settings)


def test_webhook_settings_name_their_topics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_WEBHOOKS_MAX_ATTEMPTS", "4")
    monkeypatch.setenv("SENTINEL_KAFKA_TOPIC_PREFIX", "p.")
    settings = WebhookSettings()
    assert settings.max_attempts == 4
    assert (settings.events_topic, settings.retry_topic, settings.dead_letter_topic) == (
        "p.webhooks",
        "p.webhooks.retry",
        "p.webhooks.dead-letter",
    )
    assert settings.undecodable_topic == "p.dead-letter"


def test_settings_are_frozen() -> None:
    with pytest.raises(ValueError):
        SinkSettings().batch_size = 3  # type: ignore[misc]
