"""`sentinel rules relay`: the relay as a long-running command (``sentinel rules`` group)."""

from __future__ import annotations

import asyncio
import signal

from ledger_sink import logs
from reference_store.relay import service
from reference_store.relay.settings import RelaySettings
from schemas.secrets import refuse_default_secrets


def relay_command() -> None:
    """Publish committed rule versions to the rules topic as they are committed; runs until
    SIGTERM or SIGINT. Settings: SENTINEL_RULES_RELAY_* (sweep interval, produce timeout,
    metrics port), SENTINEL_KAFKA_*, SENTINEL_POSTGRES_DSN."""
    settings = RelaySettings()
    refuse_default_secrets(settings.kafka, settings.postgres)
    logs.configure(settings.log_level)
    asyncio.run(_main(settings))


async def _main(settings: RelaySettings) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await service.run(settings, stopping)
