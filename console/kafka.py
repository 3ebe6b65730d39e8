"""The console's Kafka edge: one idempotent producer for the rules it saves (``rules`` topic).

The records are the API's (``reference_store.rules_repo.rule_message``): a rule saved here
reaches the agents as one saved through ``/v1/rules`` does. ``publish`` returns only after
the broker acknowledged the record (acks=all); otherwise it raises ``Unavailable`` and the
rule's database transaction rolls back.
"""

from __future__ import annotations

import asyncio
import threading

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from console.errors import Unavailable
from reference_store.rules_repo import rule_message, rules_topic
from schemas.connections import KafkaConnection
from schemas.records import Rule


class RulePublisher:
    """One librdkafka producer; a daemon thread serves its delivery callbacks."""

    def __init__(self, kafka: KafkaConnection, timeout_ms: int) -> None:
        self.topic = rules_topic(kafka)
        self.timeout_s = timeout_ms / 1000
        self._stop = threading.Event()
        self._producer = Producer(
            {
                "bootstrap.servers": kafka.bootstrap_servers,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 0,
                "message.timeout.ms": timeout_ms,
            }
        )
        self._thread = threading.Thread(target=self._serve, name="console-kafka", daemon=True)
        self._thread.start()

    async def publish(self, rule: Rule) -> None:
        """Produce ``rule`` and wait for the broker's acknowledgement."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def delivered(error: KafkaError | None, _message: Message) -> None:
            failure = None if error is None else KafkaException(error)
            loop.call_soon_threadsafe(_settle, done, failure)

        key, value = rule_message(rule)
        try:
            self._producer.produce(self.topic, value, key, on_delivery=delivered)
            await asyncio.wait_for(done, self.timeout_s + 1)
        except (BufferError, TimeoutError, KafkaException) as exc:
            raise Unavailable("Kafka did not acknowledge the rule; nothing was saved") from exc

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._producer.flush(5)

    def _serve(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
