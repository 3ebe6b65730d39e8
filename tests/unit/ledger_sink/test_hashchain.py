"""The ledger's canonical encoding and hash chain: stable, exact, and broken by any change."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger_sink.hashchain import (
    ENTRY_FIELDS,
    GENESIS,
    CanonicalEncodingError,
    LedgerEntry,
    canonical_bytes,
    entry_hash,
    seal,
    verify_chain,
)

ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)
MOMENTS = st.datetimes(
    min_value=datetime(1970, 1, 2, tzinfo=UTC).replace(tzinfo=None),
    max_value=datetime(2200, 1, 1, tzinfo=UTC).replace(tzinfo=None),
    timezones=ZONES,
)
AMOUNTS = st.decimals(min_value=0, max_value=Decimal("99999999999999.9999"), places=4)
BALANCES = st.decimals(min_value=Decimal("-1e15"), max_value=Decimal("1e15"), places=4)
CONTENTS = st.fixed_dictionaries(
    {
        "transaction_id": st.uuids().map(str),
        "decision_id": st.uuids(),
        "outcome": st.sampled_from(["APPROVE", "REVIEW", "DECLINE"]),
        "amount": AMOUNTS,
        "currency": st.sampled_from(["EUR", "INR", "USD"]),
        "direction": st.sampled_from(["debit", "credit"]),
        "balance_after": BALANCES,
        "created_at": MOMENTS,
    }
)
ACCOUNTS = st.text(min_size=1, max_size=12)


def build(rows: list[tuple[str, dict[str, Any]]]) -> list[LedgerEntry]:
    """Sealed entries, in the given order, each appended to its account's chain."""
    last: dict[str, LedgerEntry] = {}
    entries = []
    for account_id, content in rows:
        previous = last.get(account_id)
        seq = 1 if previous is None else previous.seq + 1
        entry = LedgerEntry(account_id=account_id, seq=seq, **content)
        entry = seal(entry, None if previous is None else previous.entry_hash)
        last[account_id] = entry
        entries.append(entry)
    return entries


CHAINS = st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), CONTENTS), min_size=1, max_size=12)
ONE_CHAIN = st.lists(CONTENTS, min_size=2, max_size=8).map(
    lambda contents: build([("acct", content) for content in contents])
)


def sample(**changes: Any) -> LedgerEntry:
    fields: dict[str, Any] = {
        "account_id": "acct-1",
        "seq": 1,
        "transaction_id": "6f1c1c8e-5d0b-4b8e-9a3c-2f7f9d2b1a10",
        "decision_id": "0e5a7a1b-2c3d-5e4f-8a9b-0c1d2e3f4a5b",
        "outcome": "APPROVE",
        "amount": Decimal("42.5"),
        "currency": "EUR",
        "direction": "debit",
        "balance_after": Decimal("957.5"),
        "created_at": datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC),
    }
    return LedgerEntry(**(fields | changes))


@given(CHAINS)
def test_a_sealed_chain_verifies_even_with_accounts_interleaved(
    rows: list[tuple[str, dict[str, Any]]],
) -> None:
    assert verify_chain(build(rows)) is None


@given(ACCOUNTS, CONTENTS)
def test_canonical_bytes_are_sorted_compact_ascii_json_that_round_trips(
    account_id: str, content: dict[str, Any]
) -> None:
    entry = LedgerEntry(account_id=account_id, seq=7, **content)
    encoded = canonical_bytes(entry)
    document = json.loads(encoded)
    assert encoded.isascii()
    assert list(document) == sorted(document)
    assert json.dumps(document, sort_keys=True, separators=(",", ":")).encode() == encoded
    assert document["v"] == 1 and document["seq"] == 7 and document["account_id"] == account_id
    assert uuid.UUID(document["decision_id"]) == content["decision_id"]
    assert Decimal(document["amount"]) == content["amount"]
    assert len(document["amount"].split(".")[1]) == 4
    assert Decimal(document["balance_after"]) == content["balance_after"]
    assert document["created_at"].endswith("Z")
    restored = datetime.fromisoformat(document["created_at"].removesuffix("Z") + "+00:00")
    assert restored == content["created_at"]


def test_values_the_database_would_return_differently_encode_alike() -> None:
    # numeric(_, 4) pads the scale and has no -0; timestamptz comes back in another zone;
    # the uuid column comes back as uuid.UUID.
    plain = canonical_bytes(sample())
    moment = datetime(2026, 11, 30, 17, 30, 0, 123456, tzinfo=timezone(timedelta(hours=5.5)))
    assert canonical_bytes(sample(amount=Decimal("42.5000"), created_at=moment)) == plain
    assert canonical_bytes(sample(decision_id=uuid.UUID(str(sample().decision_id)))) == plain
    assert canonical_bytes(sample(decision_id=str(sample().decision_id).upper())) == plain
    zero = canonical_bytes(sample(balance_after=Decimal("-0.00")))
    assert zero == canonical_bytes(sample(balance_after=Decimal("0")))
    assert b'"balance_after":"0.0000"' in zero


def test_the_encoding_is_frozen() -> None:
    # A golden vector: if this fails, every stored chain would fail verification.
    entry = sample()
    assert canonical_bytes(entry) == (
        b'{"account_id":"acct-1","amount":"42.5000","balance_after":"957.5000",'
        b'"created_at":"2026-11-30T12:00:00.123456Z","currency":"EUR",'
        b'"decision_id":"0e5a7a1b-2c3d-5e4f-8a9b-0c1d2e3f4a5b","direction":"debit",'
        b'"outcome":"APPROVE","seq":1,"transaction_id":"6f1c1c8e-5d0b-4b8e-9a3c-2f7f9d2b1a10",'
        b'"v":1}'
    )
    # The same as: { head -c 32 /dev/zero; printf '%s' '<the JSON above>'; } | sha256sum
    assert entry_hash(None, entry).hex() == (
        "41d8c405c486d15024d64492ba5d918ca1d167430f2b48a862af89c65403e9db"
    )


def test_the_resolution_encoding_is_frozen_too() -> None:
    # Encoding 2: version 1's keys, "v" 2, and the kind and resolution id it records.
    entry = sample(
        hash_version=2, kind="resolution", resolution_id="9b2f0c4e-1a2b-4c3d-8e4f-5a6b7c8d9e0f"
    )
    assert canonical_bytes(entry) == (
        b'{"account_id":"acct-1","amount":"42.5000","balance_after":"957.5000",'
        b'"created_at":"2026-11-30T12:00:00.123456Z","currency":"EUR",'
        b'"decision_id":"0e5a7a1b-2c3d-5e4f-8a9b-0c1d2e3f4a5b","direction":"debit",'
        b'"kind":"resolution","outcome":"APPROVE",'
        b'"resolution_id":"9b2f0c4e-1a2b-4c3d-8e4f-5a6b7c8d9e0f","seq":1,'
        b'"transaction_id":"6f1c1c8e-5d0b-4b8e-9a3c-2f7f9d2b1a10","v":2}'
    )
    assert verify_chain([seal(entry, None)]) is None


def test_the_first_entry_chains_from_32_zero_bytes() -> None:
    entry = sample()
    assert entry_hash(None, entry) == entry_hash(GENESIS, entry)
    assert verify_chain([seal(entry, GENESIS)]) is None
    assert verify_chain([seal(entry, b"\x01" * 32)]) is not None


def _changed(entry: LedgerEntry, field: str) -> LedgerEntry:
    """`entry` with `field` given a value whose canonical encoding differs."""
    value = getattr(entry, field)
    new: dict[str, Any] = {
        "account_id": lambda: value + "x",
        "transaction_id": lambda: value + "x",
        "outcome": lambda: value + "x",
        "currency": lambda: value + "x",
        "direction": lambda: value + "x",
        "decision_id": lambda: uuid.uuid5(uuid.NAMESPACE_OID, str(value)),
        "seq": lambda: value + 1,
        "amount": lambda: value + Decimal("0.0001"),
        "balance_after": lambda: value - Decimal("0.0001"),
        "created_at": lambda: value + timedelta(microseconds=1),
        "hash_version": lambda: 2,
        "prev_hash": lambda: bytes(32) if value is None else bytes(b ^ 1 for b in value),
        "entry_hash": lambda: bytes(b ^ 0x80 for b in value),
    }
    return replace(entry, **{field: new[field]()})


FIELDS = [
    "account_id",
    "seq",
    "transaction_id",
    "decision_id",
    "outcome",
    "amount",
    "currency",
    "direction",
    "balance_after",
    "created_at",
    "hash_version",
    "prev_hash",
    "entry_hash",
]


@given(ONE_CHAIN, st.data())
def test_any_single_field_change_breaks_the_chain_at_that_entry(
    chain: list[LedgerEntry], data: st.DataObject
) -> None:
    position = data.draw(st.integers(0, len(chain) - 1))
    field = data.draw(st.sampled_from(FIELDS))
    if field == "prev_hash" and position == 0:
        field = "entry_hash"  # the genesis link may be written NULL or as zeros alike
    tampered = [*chain[:position], _changed(chain[position], field), *chain[position + 1 :]]
    broken = verify_chain(tampered)
    assert broken is not None
    assert broken.position == position


@given(ONE_CHAIN, st.data())
def test_reordering_breaks_the_chain(chain: list[LedgerEntry], data: st.DataObject) -> None:
    order = data.draw(st.permutations(range(len(chain))).filter(lambda p: list(p) != sorted(p)))
    assert verify_chain([chain[i] for i in order]) is not None


@given(ONE_CHAIN, st.data())
def test_a_missing_entry_breaks_the_chain(chain: list[LedgerEntry], data: st.DataObject) -> None:
    gone = data.draw(st.integers(0, len(chain) - 2))
    broken = verify_chain(chain[:gone] + chain[gone + 1 :])
    assert broken is not None and broken.position == gone


def test_a_broken_link_says_where_and_why() -> None:
    first = seal(sample(), None)
    second = seal(sample(seq=2, transaction_id="t-2"), first.entry_hash)
    broken = verify_chain([first, replace(second, amount=Decimal("1"))])
    assert broken is not None
    assert (broken.position, broken.account_id, broken.seq) == (1, "acct-1", 2)
    assert "does not match" in broken.reason


@given(ONE_CHAIN, st.data())
def test_a_tail_verifies_after_the_entry_it_resumes_from(
    chain: list[LedgerEntry], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(chain) - 2))
    anchor = chain[cut]
    assert anchor.entry_hash is not None
    resume = {"acct": (anchor.seq, anchor.entry_hash)}
    assert verify_chain(chain[cut + 1 :], resume_from=resume) is None
    # Without the anchor the tail starts at a seq other than 1; after another entry, the
    # first link of the tail does not hold.
    assert verify_chain(chain[cut + 1 :]) is not None
    broken = verify_chain(chain[cut + 1 :], resume_from={"acct": (anchor.seq, GENESIS)})
    assert broken is not None and broken.position == 0 and "prev_hash" in broken.reason


def test_a_tampered_entry_of_a_tail_is_found_after_the_anchor() -> None:
    chain = [seal(sample(), None)]
    for seq in (2, 3, 4):
        chain.append(seal(sample(seq=seq, transaction_id=f"t-{seq}"), chain[-1].entry_hash))
    tail = [chain[2], replace(chain[3], amount=Decimal("1"))]
    assert chain[1].entry_hash is not None
    broken = verify_chain(tail, resume_from={"acct-1": (2, chain[1].entry_hash)})
    assert broken is not None and (broken.position, broken.seq) == (1, 4)


def test_entry_fields_name_every_column_a_ledger_entry_is_read_from() -> None:
    assert ENTRY_FIELDS[:2] == ("account_id", "seq")
    assert ENTRY_FIELDS[-3:] == ("hash_version", "prev_hash", "entry_hash")
    assert LedgerEntry(**{name: getattr(sample(), name) for name in ENTRY_FIELDS}) == sample()


@pytest.mark.parametrize(
    "changes",
    [
        {"created_at": datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)},
        {"amount": Decimal("1.00001")},
        {"amount": Decimal("NaN")},
        {"balance_after": Decimal("Infinity")},
        {"balance_after": Decimal("1" + "0" * 34 + ".0000")},  # 39 digits: no numeric(38, 4)
        {"seq": 0},
        {"decision_id": "not-a-uuid"},
        {"hash_version": 9},
        # Encoding 2 is the resolution entries' alone, and names its resolution.
        {"hash_version": 2},
        {"kind": "resolution"},
        {"resolution_id": "0e5a7a1b-2c3d-5e4f-8a9b-0c1d2e3f4a5b"},
        {"hash_version": 2, "kind": "resolution"},
        {"hash_version": 2, "kind": "resolution", "resolution_id": "not-a-uuid"},
    ],
)
def test_values_without_a_canonical_encoding_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(CanonicalEncodingError):
        canonical_bytes(sample(**changes))


def test_every_balance_numeric_38_4_holds_encodes_exactly() -> None:
    # Python's default 28-digit context refused anything past 10**24 as "too large".
    for text in ("9" * 34 + ".9999", "-" + "9" * 34 + ".9999", "1" + "0" * 24 + ".5000"):
        encoded = json.loads(canonical_bytes(sample(balance_after=Decimal(text))))
        assert encoded["balance_after"] == text


def test_a_prev_hash_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(CanonicalEncodingError):
        entry_hash(b"\x00" * 31, sample())
