"""The account page's chain state from entries in memory, and the search's id checks."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from console.chain import Stored, assess
from console.lookup import Found, found, query_problem
from ledger_sink.hashchain import LedgerEntry, seal

ACCOUNT = "acct-7"


def chain(length: int) -> list[Stored]:
    """A sealed chain of `length` entries, oldest first, entry ids from 100."""
    entries: list[Stored] = []
    for seq in range(1, length + 1):
        entry = LedgerEntry(
            account_id=ACCOUNT,
            seq=seq,
            transaction_id=f"tx-{seq}",
            decision_id=uuid.uuid5(uuid.NAMESPACE_URL, f"tx-{seq}"),
            outcome="APPROVE",
            amount=Decimal("10.0000"),
            currency="EUR",
            direction="debit",
            balance_after=Decimal(-10 * seq),
            created_at=datetime(2026, 12, 5, 9, seq, tzinfo=UTC),
        )
        previous = entries[-1].entry.entry_hash if entries else None
        entries.append(Stored(99 + seq, seal(entry, previous)))
    return entries


def test_a_short_chain_is_verified_whole() -> None:
    state = assess(chain(4), limit=10, balance_points_at=103)
    assert (state.length, state.checked, state.whole) == (4, 4, True)
    assert state.broken is None and state.pointer_matches and state.ok


def test_a_long_chain_is_verified_over_its_last_entries_from_the_one_before() -> None:
    tail = chain(10)[-4:]  # what TAIL reads with limit 3: 3 entries and their anchor
    state = assess(tail, limit=3, balance_points_at=109)
    assert (state.length, state.checked, state.whole, state.ok) == (10, 3, False, True)


def test_a_tampered_entry_is_the_first_broken_link() -> None:
    entries = chain(5)
    entries[2] = Stored(102, replace(entries[2].entry, amount=Decimal("1.0000")))
    state = assess(entries, limit=10, balance_points_at=104)
    assert state.broken is not None and state.broken.seq == 3 and not state.ok
    assert "does not match" in state.broken.reason


def test_a_tail_that_does_not_link_to_its_anchor_is_broken() -> None:
    entries = chain(6)
    forged = seal(replace(entries[3].entry, prev_hash=None), None)  # re-sealed from genesis
    state = assess([entries[2], Stored(103, forged), *entries[4:]], 3, 105)
    assert state.broken is not None and state.broken.seq == 4


def test_a_balance_pointing_elsewhere_is_not_ok_though_every_link_holds() -> None:
    state = assess(chain(3), limit=10, balance_points_at=100)
    assert state.broken is None and not state.pointer_matches and not state.ok
    assert (state.last_entry_id, state.balance_points_at) == (102, 100)


def test_a_chain_missing_its_first_entries_is_broken() -> None:
    state = assess(chain(5)[2:], limit=10, balance_points_at=104)
    assert state.broken is not None and "seq 3 where 1 was expected" in state.broken.reason


def test_no_entry_yet() -> None:
    state = assess([], limit=10, balance_points_at=None)
    assert (state.length, state.checked, state.ok) == (0, 0, True)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("tx-1", None),
        ("gw/42 ü", None),
        ("x" * 256, None),
        ("x" * 257, "an id must be 1 to 256 characters"),
        ("tx\x00-1", "an id must not contain a NUL character"),
        ("tx-\ud800", "an id must be valid Unicode text"),
        ("4111 1111 1111 1111", "looks like a card number"),
    ],
)
def test_search_text_is_held_to_the_ledger_id_rule(text: str, problem: str | None) -> None:
    if problem is None:
        assert query_problem(text) is None
    else:
        assert problem in (query_problem(text) or "")


def test_what_a_search_found() -> None:
    assert found(True, False) is Found.TRANSACTION
    assert found(False, True) is Found.ACCOUNT
    assert found(True, True) is Found.BOTH
    assert found(False, False) is Found.NOTHING
