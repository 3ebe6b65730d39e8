"""The ``console_users`` table: create, find, list, disable. Hashes in, never passwords."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation
from psycopg.rows import class_row

from console.errors import ConsoleError
from console.roles import Role

# The table's CHECK, repeated here to refuse early with a clear message.
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")


class InvalidUser(ConsoleError, ValueError):
    """A user that cannot be created as asked."""


class UserExists(InvalidUser):
    """A user of that name exists already (disabled users too: names are never reused)."""


@dataclass(frozen=True, slots=True)
class User:
    user_id: int
    username: str
    role: Role
    password_hash: str
    disabled: bool
    created_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", Role(self.role))


_COLUMNS = "user_id, username, role::text AS role, password_hash, disabled, created_at"


async def create(conn: AsyncConnection, username: str, role: Role, password_hash: str) -> User:
    if not USERNAME.fullmatch(username):
        raise InvalidUser(
            "a user name is 2-63 characters of a-z, 0-9, '.', '_' or '-', starting with a"
            " letter or digit"
        )
    try:
        async with conn.cursor(row_factory=class_row(User)) as cur:
            await cur.execute(
                f"INSERT INTO console_users (username, role, password_hash)"  # noqa: S608
                f" VALUES (%s, %s, %s) RETURNING {_COLUMNS}",
                (username, role.value, password_hash),
            )
            created = await cur.fetchone()
    except UniqueViolation as exc:
        raise UserExists(f"the user {username!r} exists already") from exc
    assert created is not None  # noqa: S101 - INSERT ... RETURNING returns the row
    return created


async def find_by_name(conn: AsyncConnection, username: str) -> User | None:
    async with conn.cursor(row_factory=class_row(User)) as cur:
        await cur.execute(
            f"SELECT {_COLUMNS} FROM console_users WHERE username = %s",  # noqa: S608
            (username,),
        )
        return await cur.fetchone()


async def find_by_id(conn: AsyncConnection, user_id: int) -> User | None:
    async with conn.cursor(row_factory=class_row(User)) as cur:
        await cur.execute(
            f"SELECT {_COLUMNS} FROM console_users WHERE user_id = %s",  # noqa: S608
            (user_id,),
        )
        return await cur.fetchone()


async def list_all(conn: AsyncConnection) -> list[User]:
    async with conn.cursor(row_factory=class_row(User)) as cur:
        await cur.execute(f"SELECT {_COLUMNS} FROM console_users ORDER BY username")  # noqa: S608
        return await cur.fetchall()


async def disable(conn: AsyncConnection, username: str) -> bool:
    """Disable ``username``; False when there is no such user. Its sessions end at their
    next request (each request re-reads the user: ``console/deps.py``)."""
    cur = await conn.execute(
        "UPDATE console_users SET disabled = true WHERE username = %s", (username,)
    )
    return cur.rowcount == 1


async def set_password_hash(conn: AsyncConnection, username: str, password_hash: str) -> bool:
    """Give ``username`` a new password (its hash); False when there is no such user."""
    cur = await conn.execute(
        "UPDATE console_users SET password_hash = %s WHERE username = %s",
        (password_hash, username),
    )
    return cur.rowcount == 1


async def set_hash(conn: AsyncConnection, user_id: int, password_hash: str) -> None:
    """Store a re-hash with stronger parameters (passwords.needs_rehash)."""
    await conn.execute(
        "UPDATE console_users SET password_hash = %s WHERE user_id = %s",
        (password_hash, user_id),
    )
