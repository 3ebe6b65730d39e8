"""Named lists and account profiles in PostgreSQL, each change published to its compacted
topic (``lists`` keyed by name, ``accounts`` keyed by account id) before it commits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime

from psycopg import AsyncConnection

from schemas.records import AccountProfile, NamedList

PublishList = Callable[[NamedList], Awaitable[None]]
PublishProfile = Callable[[AccountProfile], Awaitable[None]]


async def lists(conn: AsyncConnection) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every list: name -> (kind, sorted values)."""
    cur = await conn.execute(
        "SELECT l.list_name, l.kind, coalesce(array_agg(i.value ORDER BY i.value)"
        " FILTER (WHERE i.value IS NOT NULL), '{}') FROM lists l"
        " LEFT JOIN list_items i USING (list_name) GROUP BY l.list_name, l.kind"
    )
    return {name: (kind, tuple(values)) for name, kind, values in await cur.fetchall()}


async def get_list(conn: AsyncConnection, name: str) -> NamedList | None:
    cur = await conn.execute("SELECT kind FROM lists WHERE list_name = %s", (name,))
    row = await cur.fetchone()
    if row is None:
        return None
    items = await conn.execute(
        "SELECT value FROM list_items WHERE list_name = %s ORDER BY value", (name,)
    )
    values = tuple(v for (v,) in await items.fetchall())
    return NamedList(name=name, kind=row[0], values=values, updated_at=datetime.now(UTC))


async def create_list(
    conn: AsyncConnection,
    name: str,
    kind: str,
    description: str,
    values: Iterable[str],
    actor: str,
    publish: PublishList,
) -> NamedList:
    """A new list (IntegrityError when the name is taken)."""
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO lists (list_name, kind, description) VALUES (%s, %s, %s)",
            (name, kind, description),
        )
        return await _add_and_publish(conn, name, values, actor, publish)


async def add_items(
    conn: AsyncConnection, name: str, values: Iterable[str], actor: str, publish: PublishList
) -> NamedList | None:
    async with conn.transaction():
        if not await _lock(conn, name):
            return None
        return await _add_and_publish(conn, name, values, actor, publish)


async def remove_item(
    conn: AsyncConnection, name: str, value: str, publish: PublishList
) -> NamedList | None:
    async with conn.transaction():
        if not await _lock(conn, name):
            return None
        await conn.execute(
            "DELETE FROM list_items WHERE list_name = %s AND value = %s", (name, value)
        )
        return await _published(conn, name, publish)


async def _lock(conn: AsyncConnection, name: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM lists WHERE list_name = %s FOR UPDATE", (name,))
    return await cur.fetchone() is not None


async def _add_and_publish(
    conn: AsyncConnection, name: str, values: Iterable[str], actor: str, publish: PublishList
) -> NamedList:
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO list_items (list_name, value, added_by) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            [(name, value, actor) for value in values],
        )
    return await _published(conn, name, publish)


async def _published(conn: AsyncConnection, name: str, publish: PublishList) -> NamedList:
    named = await get_list(conn, name)
    assert named is not None  # noqa: S101 - locked or created in this transaction
    await publish(named)  # the whole membership: the compacted topic keeps the latest
    return named


async def upsert_profile(
    conn: AsyncConnection, profile: AccountProfile, publish: PublishProfile
) -> AccountProfile:
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO accounts (account_id, home_country, home_lat, home_lon)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (account_id) DO UPDATE SET"
            " home_country = EXCLUDED.home_country, home_lat = EXCLUDED.home_lat,"
            " home_lon = EXCLUDED.home_lon, updated_at = now()",
            (profile.account_id, profile.home_country, profile.home_lat, profile.home_lon),
        )
        await publish(profile)
    return profile
