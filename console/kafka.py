"""The console's Kafka edge: one idempotent producer for what the console changes.

- Not rules: a rule saved here is committed to PostgreSQL only, and `sentinel rules relay`
  (the one writer of the ``rules`` topic) publishes it, as it does one saved through
  ``/v1/rules``.
- Resolutions of REVIEW cases (``reviews`` topic, keyed by account): the reviews sink
  applies them (``ledger_sink/reviews.py``).
- Named lists it changes (compacted ``lists`` topic, keyed by name, the whole membership):
  the record the API's list endpoints publish (``ingest_api/reference_publish.py``), through
  ``reference_store.reference_repo``, so the agents pick the list up alike.

Each call returns only after the broker acknowledged the record (acks=all); otherwise it
raises ``Unavailable``.
"""

from __future__ import annotations

from console.errors import Unavailable
from schemas.codec import encode_named_list, encode_review_resolution
from schemas.connections import KafkaConnection
from schemas.kafka_edge import AsyncProducer, DeliveryFailed, Outbound
from schemas.records import NamedList, ReviewResolution
from schemas.topics import LISTS, REVIEWS


class Publisher:
    """The edge's asyncio producer, one record at a time."""

    def __init__(self, kafka: KafkaConnection, timeout_ms: int) -> None:
        self.reviews_topic = f"{kafka.topic_prefix}{REVIEWS.name}"
        self.lists_topic = f"{kafka.topic_prefix}{LISTS.name}"
        self.timeout_s = timeout_ms / 1000
        self._producer = AsyncProducer(
            kafka, "console-kafka", {"linger.ms": 0, "message.timeout.ms": timeout_ms}
        )

    async def resolution(self, resolution: ReviewResolution) -> None:
        """Publish an analyst's resolution for the reviews sink to apply."""
        key = resolution.account_id.encode()
        value = encode_review_resolution(resolution)
        await self._send(self.reviews_topic, key, value, "the resolution; nothing was resolved")

    async def named_list(self, named: NamedList) -> None:
        """Publish a list's whole membership; nothing is saved if the broker refuses it."""
        value = encode_named_list(named)
        await self._send(self.lists_topic, named.name.encode(), value, "the list; nothing changed")

    async def _send(self, topic: str, key: bytes, value: bytes, what: str) -> None:
        """Produce one record and wait for the broker's acknowledgement."""
        try:
            await self._producer.publish([Outbound(topic, key, value)], self.timeout_s + 1)
        except DeliveryFailed as exc:
            raise Unavailable(f"Kafka did not acknowledge {what}") from exc

    def close(self) -> None:
        self._producer.close(5)
