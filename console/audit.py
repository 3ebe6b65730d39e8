"""The append-only ``console_audit`` trail: who did what to which target, when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

# The actions written so far; pages added later add theirs here.
SIGNIN = "signin"
SIGNIN_FAILED = "signin.failed"
SIGNOUT = "signout"
USER_CREATED = "user.created"
USER_DISABLED = "user.disabled"
RULE_CREATED = "rule.created"
RULE_UPDATED = "rule.updated"
RULE_ACTIVATED = "rule.activated"
RULE_SHADOWED = "rule.shadowed"
RULE_DISABLED = "rule.disabled"
RULE_BACKTEST = "rule.backtest"
# Maker-checker (SENTINEL_CONSOLE_MAKER_CHECKER): a change held, then approved or rejected.
RULE_CHANGE_SUBMITTED = "rule.change_submitted"
RULE_CHANGE_APPROVED = "rule.change_approved"
RULE_CHANGE_REJECTED = "rule.change_rejected"
DEAD_LETTER_REDRIVE = "dead_letter.redrive"
LIST_ITEMS_ADDED = "list.items_added"
LIST_ITEM_REMOVED = "list.item_removed"
MODEL_ANNOUNCED = "model.announced"
USER_PASSWORD_SET = "user.password_set"  # noqa: S105 - an action name

MAX_ACTOR = 64  # a failed sign-in's actor is whatever was typed: bounded


@dataclass(frozen=True, slots=True)
class Entry:
    audit_id: int
    actor: str
    action: str
    target: str | None
    at: datetime
    detail: dict[str, Any]


async def record(
    conn: AsyncConnection,
    actor: str,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO console_audit (actor, action, target, detail) VALUES (%s, %s, %s, %s)",
        (actor[:MAX_ACTOR], action, target, Jsonb(detail or {})),
    )


async def latest(conn: AsyncConnection, limit: int = 100) -> list[Entry]:
    async with conn.cursor(row_factory=class_row(Entry)) as cur:
        await cur.execute(
            "SELECT audit_id, actor, action, target, at, detail FROM console_audit"
            " ORDER BY audit_id DESC LIMIT %s",
            (limit,),
        )
        return await cur.fetchall()
