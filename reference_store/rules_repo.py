"""Rules in PostgreSQL: immutable versions, the audit log, and the Rule records of the topic.

Every change inserts a new row in ``rule_versions`` (the database refuses updates) and a
row in ``rule_audit`` in one transaction, and that is all: the outbox relay
(``reference_store.relay``, `sentinel rules relay`) puts committed versions on the compacted
``rules`` topic, so a rule the agents run is always a rule the database holds, and no
process that saves rules needs to write that topic.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from rule_engine import RuleAction
from schemas.codec import encode_rule
from schemas.connections import KafkaConnection
from schemas.enums import RuleMode
from schemas.records import Rule
from schemas.topics import RULES

# created_at of a draft not saved yet; the database sets the real one.
UNSAVED = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RuleVersion:
    rule_id: str
    version: int
    name: str
    description: str
    expression: str
    action: str
    score_delta: float | None
    priority: int
    mode: str
    author: str
    created_at: datetime

    def record(self) -> Rule:
        return Rule(
            rule_id=self.rule_id,
            version=self.version,
            name=self.name,
            description=self.description,
            expression=self.expression,
            action=self.action,
            score_delta=self.score_delta,
            priority=self.priority,
            mode=RuleMode(self.mode),
            author=self.author,
            updated_at=self.created_at,
        )

    def public(self) -> dict[str, Any]:
        out = asdict(self)
        out["created_at"] = self.created_at.isoformat()
        return out


def rules_topic(kafka: KafkaConnection) -> str:
    """The compacted topic the agents follow for rule changes."""
    return f"{kafka.topic_prefix}{RULES.name}"


def rule_message(rule: Rule) -> tuple[bytes, bytes]:
    """The ``rules`` topic's record for ``rule``: keyed by its id (compaction keeps the
    latest version), the value Avro-encoded."""
    return rule.rule_id.encode(), encode_rule(rule)


# A rule version's columns, in RuleVersion's order (the relay reads versions with them too).
COLUMNS = (
    "rule_id::text, version, name, description, expression, action, score_delta, priority,"
    " mode, author, created_at"
)


def normalise_action(action: str) -> tuple[str, float | None]:
    """The stored action text and its score delta (raises ValueError when malformed)."""
    parsed = RuleAction.parse(action)
    if parsed.outcome is not None:
        return parsed.outcome.value, None
    return str(parsed), parsed.score_delta


def draft(
    *,
    name: str,
    description: str,
    expression: str,
    action: str,
    priority: int,
    mode: str,
    author: str,
) -> RuleVersion:
    """A rule not saved yet (``create`` gives it its id and version 1)."""
    text, delta = normalise_action(action)
    return RuleVersion(
        rule_id="",
        version=1,
        name=name,
        description=description,
        expression=expression,
        action=text,
        score_delta=delta,
        priority=priority,
        mode=mode,
        author=author,
        created_at=UNSAVED,
    )


def replace_id(draft: RuleVersion, rule_id: str) -> RuleVersion:
    """``draft`` under ``rule_id`` (a caller that must name the rule before ``create``)."""
    return replace(draft, rule_id=rule_id)


async def _insert(conn: AsyncConnection, v: RuleVersion) -> RuleVersion:
    async with conn.cursor(row_factory=class_row(RuleVersion)) as cur:
        await cur.execute(
            f"INSERT INTO rule_versions (rule_id, version, name, description, expression,"  # noqa: S608
            f" action, score_delta, priority, mode, author) VALUES"
            f" (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {COLUMNS}",
            (
                v.rule_id,
                v.version,
                v.name,
                v.description,
                v.expression,
                v.action,
                v.score_delta,
                v.priority,
                v.mode,
                v.author,
            ),
        )
        row = await cur.fetchone()
    assert row is not None  # noqa: S101 - INSERT ... RETURNING yields its row
    return row


async def _audit(
    conn: AsyncConnection, before: RuleVersion | None, after: RuleVersion, action: str
) -> None:
    changed = {
        k: {"from": getattr(before, k) if before else None, "to": getattr(after, k)}
        for k in ("name", "description", "expression", "action", "priority", "mode")
        if before is None or getattr(before, k) != getattr(after, k)
    }
    await conn.execute(
        "INSERT INTO rule_audit (rule_id, from_version, to_version, actor, action, diff)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (
            after.rule_id,
            before.version if before else None,
            after.version,
            after.author,
            action,
            Jsonb(changed),
        ),
    )


async def create(conn: AsyncConnection, draft: RuleVersion) -> RuleVersion:
    """A new rule at version 1 (IntegrityError when the name is taken), under the draft's
    ``rule_id`` when it has one (a caller that must name it first), else a new one."""
    async with conn.transaction():
        rule_id = draft.rule_id or str(uuid.uuid4())
        await conn.execute(
            "INSERT INTO rules (rule_id, name, created_by) VALUES (%s, %s, %s)",
            (rule_id, draft.name, draft.author),
        )
        saved = await _insert(conn, replace(draft, rule_id=rule_id, version=1))
        await _audit(conn, None, saved, "create")
    return saved


class StaleVersion(Exception):
    """The rule changed since the version the caller saw (``expected``)."""

    def __init__(self, rule_id: str, expected: int, current: int) -> None:
        super().__init__(f"rule {rule_id} is at version {current}, not {expected}")
        self.current = current


async def change(
    conn: AsyncConnection,
    rule_id: str,
    changes: dict[str, Any],
    author: str,
    action: str,
    expected: int | None = None,
) -> RuleVersion | None:
    """A new version with ``changes`` applied to the current one (None: no such rule).
    With ``expected``, raises StaleVersion unless the current version is that one."""
    async with conn.transaction():
        # Lock the rule so two concurrent edits cannot both claim the next version.
        await conn.execute("SELECT 1 FROM rules WHERE rule_id = %s FOR UPDATE", (rule_id,))
        current = await latest(conn, rule_id)
        if current is None:
            return None
        if expected is not None and current.version != expected:
            raise StaleVersion(rule_id, expected, current.version)
        saved = await _insert(
            conn, replace(current, **changes, version=current.version + 1, author=author)
        )
        await _audit(conn, current, saved, action)
    return saved


async def latest(conn: AsyncConnection, rule_id: str) -> RuleVersion | None:
    versions = await history(conn, rule_id, limit=1)
    return versions[0] if versions else None


async def history(conn: AsyncConnection, rule_id: str, limit: int = 1000) -> list[RuleVersion]:
    """Versions of a rule, newest first."""
    async with conn.cursor(row_factory=class_row(RuleVersion)) as cur:
        await cur.execute(
            f"SELECT {COLUMNS} FROM rule_versions WHERE rule_id = %s"  # noqa: S608
            " ORDER BY version DESC LIMIT %s",
            (rule_id, limit),
        )
        return await cur.fetchall()


async def current_versions(conn: AsyncConnection) -> list[RuleVersion]:
    """The latest version of every rule."""
    async with conn.cursor(row_factory=class_row(RuleVersion)) as cur:
        await cur.execute(
            f"SELECT DISTINCT ON (rule_id) {COLUMNS} FROM rule_versions"  # noqa: S608
            " ORDER BY rule_id, version DESC"
        )
        return await cur.fetchall()


async def by_name(conn: AsyncConnection, name: str) -> RuleVersion | None:
    row = await (
        await conn.execute("SELECT rule_id::text FROM rules WHERE name = %s", (name,))
    ).fetchone()
    return await latest(conn, row[0]) if row else None


async def audit_log(conn: AsyncConnection, rule_id: str) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT from_version, to_version, actor, action, at, diff FROM rule_audit"
        " WHERE rule_id = %s ORDER BY id",
        (rule_id,),
    )
    return [
        {
            "from_version": f,
            "to_version": t,
            "actor": a,
            "action": act,
            "at": at.isoformat(),
            "diff": d,
        }
        for f, t, a, act, at, d in await cur.fetchall()
    ]
