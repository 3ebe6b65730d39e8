"""The job's loop: compute and publish one hour, and do it at the top of every hour."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from decision_core.features.merchant import HOUR_MS
from schemas.connections import KafkaConnection, PostgresConnection
from schemas.topics import MERCHANT_RISK
from stream_agents.merchant_risk.compute import changes, records_for_hour
from stream_agents.merchant_risk.ledger import window_counts
from stream_agents.merchant_risk.topic import PublishError, RiskPublisher, held_merchants

log = logging.getLogger("stream_agents.merchant_risk")


class MerchantRiskSettings(BaseSettings):
    """What `sentinel merchant-risk run` reads (``SENTINEL_MERCHANT_RISK_*``)."""

    model_config = SettingsConfigDict(
        env_prefix="SENTINEL_MERCHANT_RISK_",
        frozen=True,
        extra="ignore",
        use_attribute_docstrings=True,
    )

    settle_s: float = Field(default=5.0, ge=0)
    """Seconds after the top of the hour before computing: labels stamped just before the
    hour get that long to reach the ledger through the labels sink."""
    retry_s: float = Field(default=10.0, gt=0)
    """Wait before another attempt when PostgreSQL or Kafka failed."""
    log_level: str = "INFO"
    """Python logging level."""

    kafka: KafkaConnection = Field(default_factory=KafkaConnection)
    postgres: PostgresConnection = Field(default_factory=PostgresConnection)

    @property
    def topic(self) -> str:
        return f"{self.kafka.topic_prefix}{MERCHANT_RISK.name}"


@dataclass(frozen=True, slots=True)
class HourReport:
    hour: datetime
    published: int
    tombstones: int
    seconds: float


class MerchantRiskJob:
    """Publishes hours; remembers which merchants the topic holds values for."""

    def __init__(
        self,
        settings: MerchantRiskSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._publisher = RiskPublisher(settings.kafka, settings.topic)
        self._held: set[str] | None = None

    def run_hour(self, hour: int) -> HourReport:
        """Compute the values for ``hour`` (UTC hours since the epoch) and publish them."""
        began = time.perf_counter()
        if self._held is None:
            self._held = held_merchants(self.settings.kafka, self.settings.topic)
        dsn = self.settings.postgres.dsn.get_secret_value()
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            window = window_counts(conn, hour)
        current = records_for_hour(window, hour, self.clock())
        records = changes(self._held, current)
        self._publisher.publish(records)
        self._held = set(current)
        tombstones = len(records) - len(current)
        report = HourReport(
            datetime.fromtimestamp(hour * HOUR_MS / 1000, UTC),
            len(current),
            tombstones,
            time.perf_counter() - began,
        )
        log.info(
            "published hour %s: %d merchants, %d tombstones, %.2f s",
            report.hour.isoformat(), report.published, report.tombstones, report.seconds,
        )  # fmt: skip
        return report

    def run(
        self, stopping: threading.Event, sleep: Callable[[float], object] | None = None
    ) -> None:
        """The current hour now, then each next hour at its top (plus the settle time).

        ``sleep`` waits that many seconds (default: on ``stopping``, so a stop cuts it short).
        """
        wait = sleep or stopping.wait
        done: int | None = None
        while not stopping.is_set():
            now_ms = int(self.clock().timestamp() * 1000)
            hour = now_ms // HOUR_MS
            if hour != done:
                try:
                    self.run_hour(hour)
                    done = hour
                except (psycopg.Error, PublishError) as exc:
                    retry = self.settings.retry_s
                    log.warning("hour %d failed, retrying in %s s: %s", hour, retry, exc)
                    wait(retry)
                    continue
            next_top_ms = (hour + 1) * HOUR_MS + int(self.settings.settle_s * 1000)
            wait(max(0.0, (next_top_ms - now_ms) / 1000))

    def close(self) -> None:
        self._publisher.close()
