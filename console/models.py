"""What the Models pages read: the registry folder's versions and cards (``fraudsim.
registry``), the champion and challenger announced on the compacted ``models`` topic
(``fraudsim.announce``, read to its end in a worker thread: its consumer blocks), and the
ledger's champion-against-challenger figures (``fraudsim.live_compare``, which `sentinel
models compare` prints too)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from console.model_cards import CardFigures, figures
from fraudsim.announce import AnnounceError, announced
from fraudsim.registry import Entry, entries
from schemas.connections import KafkaConnection
from schemas.records import ModelAnnouncement

ANNOUNCED_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Version:
    """A registry version as the list shows it."""

    entry: Entry
    card: CardFigures

    @property
    def version(self) -> str:
        return self.entry.version


@dataclass(frozen=True, slots=True)
class Announced:
    """The roles on the models topic, or why they could not be read."""

    roles: dict[str, ModelAnnouncement]
    error: str | None = None


async def versions(registry: Path) -> list[Version]:
    """Every version in the registry, newest first (OSError, ValueError: an unreadable card)."""
    found = await asyncio.to_thread(entries, registry)
    return [Version(e, figures(e.version, e.card)) for e in reversed(found)]


async def roles(kafka: KafkaConnection) -> Announced:
    try:
        found = await asyncio.to_thread(announced, kafka, ANNOUNCED_TIMEOUT_S)
    except AnnounceError as exc:
        return Announced({}, str(exc))
    return Announced(found)
