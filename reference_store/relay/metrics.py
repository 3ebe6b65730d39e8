"""Prometheus metrics of the rules relay (``sentinel_rules_relay_*``)."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram

from reference_store.relay.plan import Plan, lag_seconds

PUBLISHED = Counter(
    "sentinel_rules_relay_published_total", "rule versions published to the rules topic"
)
SUPERSEDED = Counter(
    "sentinel_rules_relay_superseded_total",
    "rule versions never published: a newer version of the rule was published instead",
)
PASSES = Counter(
    "sentinel_rules_relay_passes_total", "relay passes by result (ok, failed)", ["result"]
)
LAG_VERSIONS = Gauge(
    "sentinel_rules_relay_lag_versions", "committed rule versions not yet published"
)
LAG_SECONDS = Gauge(
    "sentinel_rules_relay_lag_seconds", "how long the oldest unpublished rule version has waited"
)
DELAY = Histogram(
    "sentinel_rules_relay_delay_seconds",
    "from a rule version's commit to Kafka's acknowledgement of it",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


def waiting(found: Plan, now: datetime) -> None:
    """The lag a pass found before it published."""
    LAG_VERSIONS.set(found.pending)
    LAG_SECONDS.set(lag_seconds(found, now))


def done(found: Plan, now: datetime) -> None:
    """A pass that published ``found``: nothing of it waits any more."""
    PUBLISHED.inc(len(found.publish))
    SUPERSEDED.inc(len(found.superseded))
    for version in found.publish:
        DELAY.observe(max(0.0, (now - version.created_at).total_seconds()))
    LAG_VERSIONS.set(0)
    LAG_SECONDS.set(0)
    PASSES.labels("ok").inc()
