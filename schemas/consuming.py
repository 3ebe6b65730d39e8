"""Reading a consumer's records as soon as they are fetched, for every part that waits on a
topic record by record (the ingest API's decision waiter, the webhook dispatcher) or
writes them in batches (the ledger sinks).

``Consumer.consume(n, timeout)`` returns only once it holds ``n`` messages or the timeout has
passed: below ``n`` per timeout, every record waits for the timeout's end (it was most of
``/v1/authorize``'s p50, docs/performance.md). ``poll`` returns at the first message; what
else is already fetched is taken without waiting, or, with a gather window, what arrives
within it: a batch then starts when its first record is there, not when the call is made.
"""

from __future__ import annotations

from confluent_kafka import Consumer, Message


def ready_messages(
    consumer: Consumer, max_messages: int, timeout_s: float, gather_s: float = 0.0
) -> list[Message]:
    """Up to ``max_messages``: waits up to ``timeout_s`` for the first, then takes what else
    has already been fetched or arrives within ``gather_s`` of it (0: no wait)."""
    first = consumer.poll(timeout_s)
    if first is None:
        return []
    if max_messages <= 1:
        return [first]
    return [first, *consumer.consume(num_messages=max_messages - 1, timeout=gather_s)]
