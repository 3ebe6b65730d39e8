"""Maker-checker's rows: rule changes the console holds in ``rule_changes_pending`` until a
second analyst approves them (then saved through ``reference_store.rules_repo``, the
one path to the rules table; `sentinel rules relay` publishes the version) or someone
rejects them with a note.

Each decision locks its row (``FOR UPDATE``), so two checkers approving at once save it
once; the audit row is in the same transaction as the decision.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from console import audit
from console.pending_view import PendingChange, Refused, approval_refused, rejection_refused
from reference_store import rules_repo
from reference_store.rules_repo import RuleVersion

_COLUMNS = (
    "change_id, rule_id::text, kind, base_version, changes, audit_action, made_by, made_at,"
    " status, decided_by, decided_at, note, published_version"
)


def author(username: str) -> str:
    """The rule version's author: the maker, as a direct save would name them."""
    return f"console:{username}"


async def submit(
    conn: AsyncConnection,
    *,
    rule_id: str,
    kind: str,
    base_version: int | None,
    changes: dict[str, Any],
    audit_action: str,
    maker: str,
) -> int:
    """Hold a change for a checker; audited ``rule.change_submitted``."""
    cur = await conn.execute(
        "INSERT INTO rule_changes_pending (rule_id, kind, base_version, changes, audit_action,"
        " made_by) VALUES (%s, %s, %s, %s, %s, %s) RETURNING change_id",
        (rule_id, kind, base_version, Jsonb(changes), audit_action, maker),
    )
    row = await cur.fetchone()
    assert row is not None  # noqa: S101 - INSERT ... RETURNING yields its row
    detail = {"change_id": row[0], "kind": kind, "action": audit_action}
    detail |= {"from_version": base_version, **_audited(changes)}
    await audit.record(conn, maker, audit.RULE_CHANGE_SUBMITTED, rule_id, detail)
    return int(row[0])


async def listed(conn: AsyncConnection, decided: int = 20) -> list[PendingChange]:
    """Every pending change (oldest first), then the last ``decided`` decisions."""
    async with conn.cursor(row_factory=class_row(PendingChange)) as cur:
        await cur.execute(
            f"(SELECT {_COLUMNS} FROM rule_changes_pending WHERE status = 'pending'"  # noqa: S608
            " ORDER BY made_at, change_id)"
            f" UNION ALL (SELECT {_COLUMNS} FROM rule_changes_pending WHERE status <> 'pending'"
            " ORDER BY decided_at DESC LIMIT %s)",
            (decided,),
        )
        return await cur.fetchall()


async def _locked(conn: AsyncConnection, change_id: int) -> PendingChange | None:
    async with conn.cursor(row_factory=class_row(PendingChange)) as cur:
        await cur.execute(
            f"SELECT {_COLUMNS} FROM rule_changes_pending WHERE change_id = %s FOR UPDATE",  # noqa: S608
            (change_id,),
        )
        return await cur.fetchone()


async def approve(
    conn: AsyncConnection, change_id: int, checker: str
) -> tuple[PendingChange, RuleVersion] | None:
    """Save the change as the rule's new version and record who approved it, in one
    transaction (the relay publishes the version). None: no such change; raises Refused."""
    async with conn.transaction():
        change = await _locked(conn, change_id)
        if change is None:
            return None
        current = await rules_repo.latest(conn, change.rule_id)
        refused = approval_refused(change, checker, current.version if current else None)
        if refused is not None:
            raise refused
        saved = await _save(conn, change)
        await conn.execute(
            "UPDATE rule_changes_pending SET status = 'approved', decided_by = %s,"
            " decided_at = now(), published_version = %s WHERE change_id = %s",
            (checker, saved.version, change_id),
        )
        detail = {"change_id": change_id, "made_by": change.made_by}
        detail |= {"action": change.audit_action, "to_version": saved.version}
        await audit.record(conn, checker, audit.RULE_CHANGE_APPROVED, change.rule_id, detail)
    return change, saved


async def _save(conn: AsyncConnection, change: PendingChange) -> RuleVersion:
    if change.kind == "create":
        draft = rules_repo.draft(
            name=change.changes["name"],
            description=change.changes.get("description", ""),
            expression=change.changes["expression"],
            action=change.changes["action"],
            priority=change.changes.get("priority", 0),
            mode=change.changes["mode"],
            author=author(change.made_by),
        )
        return await rules_repo.create(conn, rules_repo.replace_id(draft, change.rule_id))
    kind = change.audit_action.removeprefix("rule.")
    saved = await rules_repo.change(
        conn,
        change.rule_id,
        change.changes,
        author(change.made_by),
        kind,
        change.base_version,
    )
    if saved is None:  # approval_refused saw the rule a moment ago, under the same lock
        raise Refused("the rule no longer exists")
    return saved


async def reject(
    conn: AsyncConnection, change_id: int, checker: str, note: str
) -> PendingChange | None:
    """Record the rejection and its note; nothing is published. None: no such change."""
    async with conn.transaction():
        change = await _locked(conn, change_id)
        if change is None:
            return None
        refused = rejection_refused(change, note)
        if refused is not None:
            raise refused
        await conn.execute(
            "UPDATE rule_changes_pending SET status = 'rejected', decided_by = %s,"
            " decided_at = now(), note = %s WHERE change_id = %s",
            (checker, note.strip(), change_id),
        )
        detail = {"change_id": change_id, "made_by": change.made_by, "note": note.strip()}
        await audit.record(conn, checker, audit.RULE_CHANGE_REJECTED, change.rule_id, detail)
    return change


def _audited(changes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in changes.items() if k in ("mode", "action", "priority", "name")}
