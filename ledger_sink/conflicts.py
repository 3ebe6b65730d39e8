"""Which decisions reuse a transaction id with other content: pure, no I/O (issue 18, item 8).

A decision whose transaction id is already booked is a redelivery when its transaction has
the same content hash (``schemas.fingerprint``) as the booked one: "already written", as
before. With another hash it is a conflicting duplicate, whichever account it names: the
writer refuses the batch (``ConflictingDuplicate``), the sink splits it until the culprit
stands alone, and that one is dead-lettered with nothing booked for it. The first booking
wins; the ledger never holds a transaction whose stored body differs from what was decided.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ledger_sink.errors import ConflictingDuplicate
from schemas.fingerprint import canonical_fingerprint, transaction_fingerprint
from schemas.records import Decision


def within(decisions: Iterable[Decision]) -> list[Decision]:
    """The decisions that repeat an earlier transaction id of the batch with other content."""
    first: dict[str, str] = {}
    clashing: list[Decision] = []
    for decision in decisions:
        fingerprint = transaction_fingerprint(decision.transaction)
        if first.setdefault(decision.transaction_id, fingerprint) != fingerprint:
            clashing.append(decision)
    return clashing


def stored_fingerprints(rows: Iterable[Sequence[Any]]) -> dict[str, str]:
    """transaction id -> fingerprint of ``transactions`` rows (``sql.STORED_TRANSACTIONS``)."""
    return {row[0]: canonical_fingerprint(row) for row in rows}


def against(decisions: Iterable[Decision], stored: Mapping[str, str]) -> list[Decision]:
    """The decisions whose transaction differs from the booked one of the same id."""
    return [
        d
        for d in decisions
        if d.transaction_id in stored
        and stored[d.transaction_id] != transaction_fingerprint(d.transaction)
    ]


def refuse(clashing: Sequence[Decision]) -> None:
    """Raise for a batch holding conflicting duplicates (nothing of it is committed)."""
    if clashing:
        ids = ", ".join(sorted({d.transaction_id for d in clashing})[:5])
        # No field values: the other body may belong to another account.
        raise ConflictingDuplicate(f"transaction id already booked with different content: {ids}")
