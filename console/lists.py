"""What the Lists page reads of the named allow/deny lists, and the pure checks of what an
analyst types. Changes go through ``reference_store.reference_repo`` (``lists_pages.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from psycopg import AsyncConnection
from psycopg.rows import class_row

from schemas.pan import mask_pans
from schemas.validation import list_value_problem

# One add at most: a paste of a few thousand ids is an analyst's job; more is the API's.
MAX_ADDED: Final = 1000
# Members shown on a list's page; a filter narrows a longer list.
SHOWN: Final = 500


@dataclass(frozen=True, slots=True)
class Summary:
    list_name: str
    kind: str
    description: str
    items: int
    created_at: datetime
    last_added_at: datetime | None


@dataclass(frozen=True, slots=True)
class Item:
    value: str
    added_at: datetime
    added_by: str


@dataclass(frozen=True, slots=True)
class Problem:
    line: int  # 1-based line of the form's text
    value: str
    message: str


_SUMMARIES = (
    "SELECT l.list_name, l.kind, l.description, count(i.value)::int AS items,"
    " l.created_at, max(i.added_at) AS last_added_at"
    " FROM lists l LEFT JOIN list_items i USING (list_name)"
    " WHERE %(name)s::text IS NULL OR l.list_name = %(name)s"
    " GROUP BY l.list_name ORDER BY l.list_name"
)


async def summaries(conn: AsyncConnection, name: str | None = None) -> list[Summary]:
    """Every list with its member count (only ``name``'s, when given)."""
    async with conn.cursor(row_factory=class_row(Summary)) as cur:
        await cur.execute(_SUMMARIES, {"name": name})
        return await cur.fetchall()


async def items(conn: AsyncConnection, name: str, contains: str = "") -> tuple[list[Item], int]:
    """The first ``SHOWN`` members (by value) holding ``contains``, and how many hold it."""
    pattern = "%" + like_escaped(contains) + "%"
    where = "WHERE list_name = %s AND value LIKE %s"
    cur = await conn.execute(f"SELECT count(*) FROM list_items {where}", (name, pattern))  # noqa: S608 - constant text
    row = await cur.fetchone()
    async with conn.cursor(row_factory=class_row(Item)) as items_cur:
        await items_cur.execute(
            f"SELECT value, added_at, added_by FROM list_items {where}"  # noqa: S608 - constant text
            " ORDER BY value LIMIT %s",
            (name, pattern, SHOWN),
        )
        return await items_cur.fetchall(), int(row[0]) if row else 0


def like_escaped(text: str) -> str:
    """``text`` matched literally inside a LIKE pattern (backslash is LIKE's escape)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def parsed_values(text: str) -> tuple[list[str], list[Problem]]:
    """The values of a form's text, one a line (blank lines skipped, surrounding spaces
    trimmed, repeats once), and the problems of those that cannot be members."""
    values: list[str] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        value = line.strip()
        if not value or value in seen:
            continue
        seen.add(value)
        problem = list_value_problem(value)
        if problem is not None:
            problems.append(Problem(number, _shown(value), problem))
        else:
            values.append(value)
    if not values and not problems:
        problems.append(Problem(0, "", "give at least one value, one a line"))
    if len(values) > MAX_ADDED:
        problems.append(Problem(0, "", f"at most {MAX_ADDED} values at once ({len(values)} given)"))
    return values, problems


def _shown(value: str) -> str:
    """A refused value as the page may echo it: a card number is never shown back."""
    return mask_pans(value)[:80]
