"""Read-only PostgreSQL access: the live decisions to compare with, and candidate rules.

Every connection sets ``default_transaction_read_only``, so even a bug here cannot write to
the ledger. Decisions are looked up in batches by transaction id (one round trip per batch,
never per event).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from replay.errors import ReplayError
from replay.plan import RuleRef
from rule_engine import RuleSpec
from schemas.enums import Outcome, RuleMode
from schemas.records import Rule

READ_ONLY = "-c default_transaction_read_only=on"


@dataclass(frozen=True, slots=True)
class LiveDecision:
    """What the ledger holds for one transaction."""

    outcome: Outcome
    risk_score: float
    model_version: str | None
    rules: tuple[str, ...]  # active rules that fired, "rule_id" (sorted)
    shadow_rules: tuple[str, ...]


def connect(dsn: str) -> psycopg.Connection:
    try:
        return psycopg.connect(dsn, autocommit=True, options=READ_ONLY, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise ReplayError(f"cannot reach PostgreSQL: {exc}") from exc


_DECISIONS = """
SELECT d.transaction_id, d.outcome, d.risk_score, d.model_version,
       coalesce(array_agg(h.rule_id ORDER BY h.rule_id) FILTER (WHERE NOT h.shadow), '{}'),
       coalesce(array_agg(h.rule_id ORDER BY h.rule_id) FILTER (WHERE h.shadow), '{}')
  FROM decisions d
  LEFT JOIN decision_rule_hits h ON h.decision_id = d.decision_id
 WHERE d.transaction_id = ANY(%s)
 GROUP BY d.decision_id
"""


def live_decisions(
    conn: psycopg.Connection, transaction_ids: Sequence[str]
) -> dict[str, LiveDecision]:
    """The ledger's decision of each of ``transaction_ids`` that has one, in one query."""
    if not transaction_ids:
        return {}
    rows = conn.execute(_DECISIONS, (list(transaction_ids),)).fetchall()
    return {
        tid: LiveDecision(Outcome(outcome), float(score), model, tuple(rules), tuple(shadow))
        for tid, outcome, score, model, rules, shadow in rows
    }


_RULES = """
SELECT v.rule_id::text, v.version, v.name, v.description, v.expression, v.action,
       v.score_delta, v.priority, v.mode, v.author, v.created_at
  FROM rule_versions v JOIN rules r USING (rule_id)
 WHERE r.rule_id::text = %(rule)s OR r.name = %(rule)s
 ORDER BY v.version DESC
"""


def rules_from_database(conn: psycopg.Connection, refs: Sequence[RuleRef]) -> list[RuleSpec]:
    """Each referenced rule at its version (latest when none is given)."""
    specs = []
    for ref in refs:
        rows = conn.execute(_RULES, {"rule": ref.rule}).fetchall()
        if ref.version is not None:
            rows = [row for row in rows if row[1] == ref.version]
        if not rows:
            at = f" version {ref.version}" if ref.version else ""
            raise ReplayError(f"no rule {ref.rule!r}{at} in the rules table")
        rid, version, name, description, expression, action, delta, priority, mode, author, at_ = (
            rows[0]
        )
        record = Rule(
            rule_id=rid,
            version=version,
            name=name,
            description=description,
            expression=expression,
            action=action,
            score_delta=delta,
            priority=priority,
            mode=RuleMode(mode),
            author=author,
            updated_at=at_,
        )
        specs.append(RuleSpec.from_record(record))
    return specs
