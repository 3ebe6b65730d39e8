"""The pipeline's lag per stage for the Overview: ``schemas.stages`` read off the event loop.

Every Overview stream asks for it on every push; Kafka is asked at most once per
``max_age_s`` whatever the number of streams: one worker thread at a time reads, the others
share its answer. A read that takes longer than ``wait_s`` is not waited for: the last
answer is shown, marked stale, and the read goes on in its thread (never a second one beside
it). The reader names the pipeline's groups but never joins them nor commits (see
``schemas.stages``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from confluent_kafka import KafkaException

from schemas.connections import KafkaConnection
from schemas.stages import STAGES, LagReader, StageLag


@dataclass(frozen=True, slots=True)
class Lags:
    stages: list[StageLag]
    stale: bool  # Kafka did not answer in time: these are the last known figures


def unknown(prefix: str, why: str) -> list[StageLag]:
    """Every stage with its lag unknown (Kafka has not answered yet)."""
    return [
        StageLag(stage, f"{prefix}{group}", f"{prefix}{topic}", None, why)
        for stage, (group, topic) in STAGES.items()
    ]


class StageLags:
    def __init__(self, kafka: KafkaConnection, wait_s: float, max_age_s: float) -> None:
        self.prefix = kafka.topic_prefix
        self.wait_s = wait_s
        self.max_age_s = max_age_s
        self._reader = LagReader(kafka, timeout_s=wait_s)
        self._last: list[StageLag] | None = None
        self._read_at = 0.0
        self._pending: asyncio.Future[list[StageLag]] | None = None

    def known(self) -> Lags:
        """The last answer without asking Kafka (a page's first render; its stream asks)."""
        if self._last is None:
            return Lags(unknown(self.prefix, "not read yet"), stale=True)
        return Lags(self._last, stale=time.monotonic() - self._read_at >= self.max_age_s)

    async def read(self) -> Lags:
        if self._last is not None and time.monotonic() - self._read_at < self.max_age_s:
            return Lags(self._last, stale=False)
        if self._pending is None or self._pending.done():
            self._pending = asyncio.ensure_future(asyncio.to_thread(self._reader.stages))
        try:
            # shield: a stream that stops waiting does not cancel the read the others share.
            found = await asyncio.wait_for(asyncio.shield(self._pending), self.wait_s)
        except TimeoutError:
            last = self._last or unknown(self.prefix, "Kafka did not answer in time")
            return Lags(last, stale=True)
        except (KafkaException, RuntimeError) as exc:  # a client that could not be made
            return Lags(self._last or unknown(self.prefix, str(exc)), stale=True)
        self._last, self._read_at = found, time.monotonic()
        return Lags(found, stale=False)

    async def close(self) -> None:
        """Close the reader once no read runs in its thread (a consumer closed under a running
        call would take librdkafka down)."""
        if self._pending is not None and not self._pending.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._pending), self.wait_s * 4)
            except TimeoutError:
                return  # a hung read: leave its consumers to the process's exit
            except (KafkaException, RuntimeError):
                pass  # it ended: the reader can close
        await asyncio.to_thread(self._reader.close)
