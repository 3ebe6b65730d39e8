"""The relay's SQL: the lock that serialises passes, the versions waiting, the publications.

A pass runs in one transaction that first takes a transaction-level advisory lock: two
relays (or a relay and `sentinel rules sync`) on one database take turns, and each pass
reads the publications every earlier pass committed. That, and publishing only each rule's
newest version above its watermark, is why a rule's versions reach the topic in order.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import AsyncConnection
from psycopg.rows import class_row

from reference_store.rules_repo import COLUMNS, RuleVersion

# The channel of migration 20261205_0800's trigger (a committed version's "<rule_id>:<n>").
CHANNEL = "rule_versions"
# One lock per database: the relay's passes. hashtext() gives a stable int4 for the name.
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('sentinel.rules_relay'))"


async def lock(conn: AsyncConnection) -> None:
    """Wait for the other passes on this database; held until the transaction ends."""
    await conn.execute(_LOCK)


async def pending(conn: AsyncConnection) -> list[RuleVersion]:
    """Every version above its rule's watermark (its newest published version)."""
    async with conn.cursor(row_factory=class_row(RuleVersion)) as cur:
        await cur.execute(
            f"SELECT {COLUMNS} FROM rule_versions"  # noqa: S608 - constant column list
            " LEFT JOIN (SELECT rule_id, max(version) AS published FROM rule_publications"
            "  GROUP BY rule_id) AS p USING (rule_id)"
            " WHERE version > coalesce(p.published, 0)"
        )
        return await cur.fetchall()


async def record(conn: AsyncConnection, published: Sequence[RuleVersion]) -> None:
    """Note ``published`` as on the topic (a version published again is noted once)."""
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO rule_publications (rule_id, version) VALUES (%s, %s)"
            " ON CONFLICT DO NOTHING",
            [(v.rule_id, v.version) for v in published],
        )
