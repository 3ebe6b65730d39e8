"""An agent worker whose consumer drops records, as faust's can: the fault, injected.

faust-streaming's ``Consumer.getmany`` abandons the rest of a fetched batch when the flow
stops or the generation changes mid-way, and cancels a delivery cut short by a flow stop:
aiokafka's position is past those records, nothing acknowledged or committed them, and
only a later record of the partition would reveal the hole to the agent. That happens
around rebalances, rarely and out of a test's control; this worker makes it happen on
demand. Run as ``python -m tests.support.dropping_worker`` with the worker's environment
plus ``DROP_FROM_OFFSET``: every delivery of a source record at or past that offset is
swallowed before faust sees it (every one, also those of faust's own seeks: faust may fetch
a record twice around its recovery's seek, and a second delivery would hide the fault)
until the agent seeks that partition back itself; then the worker is
``sentinel agents run``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

from faust.types import TP

from stream_agents import worker
from stream_agents.faust_edge import RewindingConsumer

SOURCE_SUFFIX = ".transactions"


def main() -> None:
    start = int(os.environ["DROP_FROM_OFFSET"])
    getmany, seek = RewindingConsumer.getmany, RewindingConsumer.seek
    sought: set[TP] = set()

    async def dropping(self: RewindingConsumer, timeout: float) -> AsyncIterator[Any]:
        async for tp, message in getmany(self, timeout):
            dropped = tp.topic.endswith(SOURCE_SUFFIX) and message.offset >= start
            if not dropped or tp in sought:
                yield tp, message

    async def seeking(self: RewindingConsumer, partition: TP, offset: int) -> None:
        # Only the agent calls the public seek (faust's own seeks go another way).
        sought.add(partition)
        await seek(self, partition, offset)

    RewindingConsumer.getmany = dropping  # type: ignore[method-assign]
    RewindingConsumer.seek = seeking  # type: ignore[method-assign]
    worker.run(log_level="info")


if __name__ == "__main__":
    main()
