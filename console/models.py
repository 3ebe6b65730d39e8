"""What the Models pages read: the registry folder's versions and cards (``fraudsim.
registry``), the champion and challenger announced on the compacted ``models`` topic
(``fraudsim.announce``, read to its end in a worker thread: its consumer blocks), and the
ledger's champion-against-challenger figures (``decisions.challenger_score``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from psycopg import AsyncConnection
from psycopg.rows import class_row

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


# Decisions scored by a challenger over the last day of transaction time (through the
# transactions' event-time index; the decisions table has no index by time), per pair of
# versions: how often each would flag at the champion's review threshold, where they
# disagree, and among the labelled ones how many frauds each caught. risk_score is the
# decided score, rules' score adjustments included: the challenger's never has them.
_COMPARISON = """
SELECT d.model_version AS champion, d.challenger_model_version AS challenger,
       count(*)::int AS decisions,
       avg(d.risk_score) AS champion_mean, avg(d.challenger_score) AS challenger_mean,
       count(*) FILTER (WHERE d.risk_score >= %(at)s)::int AS champion_flagged,
       count(*) FILTER (WHERE d.challenger_score >= %(at)s)::int AS challenger_flagged,
       count(*) FILTER (WHERE (d.risk_score >= %(at)s) <> (d.challenger_score >= %(at)s))::int
           AS disagreements,
       count(l.transaction_id)::int AS labelled,
       count(*) FILTER (WHERE l.is_fraud)::int AS frauds,
       count(*) FILTER (WHERE l.is_fraud AND d.risk_score >= %(at)s)::int AS champion_caught,
       count(*) FILTER (WHERE l.is_fraud AND d.challenger_score >= %(at)s)::int
           AS challenger_caught,
       max(d.decided_at) AS last_decided_at
FROM transactions t
JOIN decisions d ON d.transaction_id = t.transaction_id
LEFT JOIN labels l ON l.transaction_id = t.transaction_id
WHERE t.event_ts >= now() - interval '24 hours' AND d.challenger_score IS NOT NULL
GROUP BY 1, 2 ORDER BY max(d.decided_at) DESC LIMIT 5
"""


@dataclass(frozen=True, slots=True)
class Comparison:
    champion: str | None
    challenger: str
    decisions: int
    champion_mean: float
    challenger_mean: float
    champion_flagged: int
    challenger_flagged: int
    disagreements: int
    labelled: int
    frauds: int
    champion_caught: int
    challenger_caught: int
    last_decided_at: datetime

    def recall(self, caught: int) -> float | None:
        return caught / self.frauds if self.frauds else None


async def comparisons(conn: AsyncConnection, review_at: float) -> list[Comparison]:
    async with conn.cursor(row_factory=class_row(Comparison)) as cur:
        await cur.execute(_COMPARISON, {"at": review_at})
        return await cur.fetchall()
