"""What the Rules pages read from PostgreSQL: rules with their hits, and a rule's versions.

Rules and versions come from ``reference_store.rules_repo`` (the API's own queries); the
hits from the ledger's ``decision_rule_hits``, through its (rule_id, rule_version) index,
joined to their decisions for the time they were decided.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import AsyncConnection
from psycopg.rows import class_row

from console.rules_view import HitFigures, HitGroup, hit_figures
from reference_store import rules_repo
from reference_store.rules_repo import RuleVersion

_HITS = """
SELECT h.rule_id, h.shadow, h.action, d.outcome::text AS outcome,
       d.decided_at >= now() - interval '1 hour' AS last_hour, count(*)::int AS hits
FROM decision_rule_hits h JOIN decisions d USING (decision_id)
WHERE h.rule_id = ANY(%s) AND d.decided_at >= now() - interval '24 hours'
GROUP BY 1, 2, 3, 4, 5
"""


@dataclass(frozen=True, slots=True)
class Listed:
    """A rule on the list: its current version (state, who changed it last, when) and hits."""

    rule: RuleVersion
    hits: HitFigures


async def hit_groups(conn: AsyncConnection, rule_ids: list[str]) -> list[HitGroup]:
    async with conn.cursor(row_factory=class_row(HitGroup)) as cur:
        await cur.execute(_HITS, (rule_ids,))
        return await cur.fetchall()


async def listed(conn: AsyncConnection) -> list[Listed]:
    """Every rule, active first, then shadow, then disabled; by name within each."""
    rules = await rules_repo.current_versions(conn)
    figures = hit_figures(await hit_groups(conn, [r.rule_id for r in rules]))
    order = {"active": 0, "shadow": 1, "disabled": 2}
    rules.sort(key=lambda r: (order.get(r.mode, 3), r.name))
    return [Listed(r, figures.get(r.rule_id, HitFigures())) for r in rules]
