"""One relay pass: under the lock, publish what the plan says, then note it published.

At least once: a relay that dies after Kafka acknowledged a version and before its
transaction commits leaves no publication row, so the next pass publishes that version (or
a newer one of the rule) again. A duplicate of a rule's newest version on a topic compacted
by rule id is harmless.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from psycopg import AsyncConnection

from reference_store import rules_repo
from reference_store.relay import store
from reference_store.relay.plan import Plan, plan, republish
from reference_store.rules_repo import RuleVersion, rule_message, rules_topic
from schemas.connections import KafkaConnection
from schemas.kafka_edge import Outbound, deliver_all, producer

# Publish versions and return once Kafka acknowledged every one (else raise).
Send = Callable[[Sequence[RuleVersion]], Awaitable[None]]


class KafkaSend:
    """The relay's producer on the ``rules`` topic: the edge's durable produce."""

    def __init__(self, kafka: KafkaConnection, timeout_s: float) -> None:
        self.topic = rules_topic(kafka)
        self.timeout_s = timeout_s
        # linger 0: a pass is a handful of records that should leave at once. A record
        # gives up when the pass does: no retry of an old version outlives its pass.
        timeout_ms = int(timeout_s * 1000)
        self._client = producer(kafka, **{"linger.ms": 0, "message.timeout.ms": timeout_ms})

    async def __call__(self, versions: Sequence[RuleVersion]) -> None:
        records = [Outbound(self.topic, *rule_message(v.record())) for v in versions]
        # deliver_all blocks until acknowledged: off the event loop.
        await asyncio.to_thread(deliver_all, self._client, records, self.timeout_s)

    def close(self) -> None:
        self._client.flush(self.timeout_s)


async def publish_pending(
    conn: AsyncConnection,
    send: Send,
    *,
    everything: bool = False,
    seen: Callable[[Plan], None] = lambda _plan: None,
) -> Plan:
    """Publish each rule's newest unpublished version (with ``everything``: every rule's
    current version again, a repair) and note them published; returns the pass's plan.
    ``seen`` gets what was waiting before anything is sent (the relay's lag metrics)."""
    async with conn.transaction():
        await store.lock(conn)
        waiting = plan(await store.pending(conn))
        seen(waiting)
        chosen = waiting
        if everything:
            current = republish(await rules_repo.current_versions(conn))
            chosen = Plan(current.publish, waiting.superseded)
        if chosen.publish:
            await send(chosen.publish)
            await store.record(conn, chosen.publish)
    return chosen
