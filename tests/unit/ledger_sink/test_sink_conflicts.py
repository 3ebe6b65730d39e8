"""Which decisions reuse a transaction id with other content (pure part of issue 18, item 8)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from ledger_sink.conflicts import against, refuse, stored_fingerprints, within
from ledger_sink.errors import ConflictingDuplicate
from ledger_sink.testing import decision, transaction
from schemas.fingerprint import CANONICAL_FIELDS, transaction_fingerprint


def test_a_repeat_with_the_same_content_is_no_conflict_another_body_is() -> None:
    first = decision(transaction("a", "10.00"))
    again = replace(first, decided_at=first.decided_at + timedelta(seconds=1))
    other = decision(transaction("b", "10.00", transaction_id=first.transaction_id))
    assert within([first, again]) == []
    assert within([first, again, other]) == [other]


def test_against_the_booked_rows() -> None:
    booked = decision(transaction("a", "10.00"))
    row = [getattr(booked.transaction, name) for name in CANONICAL_FIELDS]
    stored = stored_fingerprints([row])
    assert stored == {booked.transaction_id: transaction_fingerprint(booked.transaction)}
    clash = decision(transaction("a", "11.00", transaction_id=booked.transaction_id))
    fresh = decision(transaction("a", "11.00"))
    assert against([booked, clash, fresh], stored) == [clash]


def test_refuse_raises_only_for_conflicts_and_names_ids_not_contents() -> None:
    refuse([])
    clash = decision(transaction("b", "12.34"))
    with pytest.raises(ConflictingDuplicate) as raised:
        refuse([clash])
    assert raised.value.code == "conflicting_duplicate"
    assert clash.transaction_id in str(raised.value) and "12.34" not in str(raised.value)
