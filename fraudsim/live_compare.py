"""Champion against challenger on live traffic, from the ledger: one definition for the
console's Models page and `sentinel models compare`.

Every decision scored in shadow carries both scores (``decisions.risk_score``, the decided
score, rules' score adjustments included, and ``decisions.challenger_score``, the
challenger's model alone). Per pair of versions, over the decisions of a window of
transaction time, both are held to the champion's thresholds: how many each would flag for
review (score at or above ``review_at``) and decline (at or above ``decline_at``), where they
disagree, and — against the labels the ledger holds (analysts' verdicts, chargebacks,
however late) — precision and recall: a transaction counts as fraud when its label says
so, as genuine otherwise (labels are the only truth a bank has; a fraud nobody reported
yet counts as genuine until its label arrives). The decision the champion actually took
(rules included) is shown beside: ``declined``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from psycopg import AsyncConnection
from psycopg.rows import class_row

# Through the transactions' event-time index (the decisions table has none by time).
_COMPARISON: Final = """
SELECT d.model_version AS champion, d.challenger_model_version AS challenger,
       count(*)::int AS decisions,
       avg(d.risk_score) AS champion_mean, avg(d.challenger_score) AS challenger_mean,
       count(*) FILTER (WHERE d.outcome = 'DECLINE')::int AS declined,
       count(*) FILTER (WHERE d.risk_score >= %(review_at)s)::int AS champion_flagged,
       count(*) FILTER (WHERE d.challenger_score >= %(review_at)s)::int AS challenger_flagged,
       count(*) FILTER (WHERE d.risk_score >= %(decline_at)s)::int AS champion_declines,
       count(*) FILTER (WHERE d.challenger_score >= %(decline_at)s)::int
           AS challenger_declines,
       count(*) FILTER (
           WHERE (d.risk_score >= %(review_at)s) <> (d.challenger_score >= %(review_at)s)
       )::int AS disagreements,
       count(l.transaction_id)::int AS labelled,
       count(*) FILTER (WHERE l.is_fraud)::int AS frauds,
       count(*) FILTER (WHERE l.is_fraud AND d.risk_score >= %(review_at)s)::int
           AS champion_caught,
       count(*) FILTER (WHERE l.is_fraud AND d.challenger_score >= %(review_at)s)::int
           AS challenger_caught,
       max(d.decided_at) AS last_decided_at
FROM transactions t
JOIN decisions d ON d.transaction_id = t.transaction_id
LEFT JOIN labels l ON l.transaction_id = t.transaction_id
WHERE t.event_ts >= %(since)s AND t.event_ts < %(until)s AND d.challenger_score IS NOT NULL
GROUP BY 1, 2 ORDER BY max(d.decided_at) DESC LIMIT %(pairs)s
"""


@dataclass(frozen=True, slots=True)
class Comparison:
    """One (champion, challenger) pair over the window; the figures the query counts."""

    champion: str | None
    challenger: str
    decisions: int
    champion_mean: float
    challenger_mean: float
    declined: int
    champion_flagged: int
    challenger_flagged: int
    champion_declines: int
    challenger_declines: int
    disagreements: int
    labelled: int
    frauds: int
    champion_caught: int
    challenger_caught: int
    last_decided_at: datetime

    def recall(self, caught: int) -> float | None:
        """Share of the labelled frauds flagged; None without any."""
        return caught / self.frauds if self.frauds else None

    def precision(self, caught: int, flagged: int) -> float | None:
        """Share of the flagged that turned out fraud; None when nothing was flagged."""
        return caught / flagged if flagged else None

    def rate(self, count: int) -> float | None:
        return count / self.decisions if self.decisions else None

    def summary(self) -> dict[str, object]:
        """The pair as `sentinel models compare --json` prints it."""
        return {"champion": self.champion, "challenger": self.challenger,
                "decisions": self.decisions, "labelled": self.labelled, "frauds": self.frauds,
                "declined": self.declined, "disagreements": self.disagreements,
                "figures": self.figures()}  # fmt: skip

    def figures(self) -> dict[str, dict[str, float | int | None]]:
        """Champion and challenger side by side."""
        return {
            "champion": self._side(self.champion_flagged, self.champion_declines,
                                   self.champion_caught, self.champion_mean),
            "challenger": self._side(self.challenger_flagged, self.challenger_declines,
                                     self.challenger_caught, self.challenger_mean),
        }  # fmt: skip

    def _side(
        self, flagged: int, declines: int, caught: int, mean: float
    ) -> dict[str, float | int | None]:
        return {
            "mean_score": mean,
            "flagged": flagged,
            "review_rate": self.rate(flagged),
            "decline_rate": self.rate(declines),
            "precision": self.precision(caught, flagged),
            "recall": self.recall(caught),
        }


async def comparisons(
    conn: AsyncConnection,
    since: datetime,
    until: datetime,
    review_at: float,
    decline_at: float,
    pairs: int = 5,
) -> list[Comparison]:
    """The newest ``pairs`` pairs scored in [since, until) of transaction time."""
    params = {"since": since, "until": until, "review_at": review_at,
              "decline_at": decline_at, "pairs": pairs}  # fmt: skip
    async with conn.cursor(row_factory=class_row(Comparison)) as cur:
        await cur.execute(_COMPARISON, params)
        return await cur.fetchall()
