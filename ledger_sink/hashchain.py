"""The ledger's hash chain: the one canonical encoding of an entry, its hash, and verification.

The sink computes every hash here, in Python, before it inserts the row; ``sentinel ledger
verify`` recomputes them here from the rows it reads back. Both sides therefore share this
module, and the encoding below is frozen: changing it would break every chain already stored.
A new encoding gets a new ``hash_version`` (a column of ``ledger_entries``), never an edit.

Canonical encoding, version 1 (``canonical_bytes``): the UTF-8 (in fact pure ASCII) bytes of
a JSON object with exactly these keys, sorted, with no whitespace (``","`` and ``":"`` as
separators) and every non-ASCII character escaped as ``\\uXXXX``:

- ``"v"``: the integer 1 (the hash version);
- ``"account_id"``, ``"transaction_id"``, ``"outcome"``, ``"currency"``, ``"direction"``:
  the strings exactly as stored (no case folding or Unicode normalisation);
- ``"decision_id"``: the UUID in its lower-case, hyphenated form;
- ``"seq"``: the integer;
- ``"amount"``, ``"balance_after"``: decimal strings with exactly four fractional digits, no
  exponent, no ``+``, and ``0.0000`` for zero of either sign — what ``numeric(_, 4)`` gives
  back, so ``42.5`` and ``42.5000`` encode alike and a value with more than four decimals
  (which the database would round) is refused; so is one of more than 38 digits in all,
  which no ``numeric(38, 4)`` column holds;
- ``"created_at"``: the instant in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (microseconds:
  PostgreSQL's ``timestamptz`` precision); a naive datetime is refused.

Canonical encoding, version 2 (the entries of kind ``resolution``: an analyst's approval of
a REVIEW decision, ``ledger_sink/reviews.py``): version 1's keys with ``"v"`` 2, plus
``"kind"`` (the string ``resolution``) and ``"resolution_id"`` (a UUID, as ``decision_id``).
Entries of kind ``decision`` are always version 1, so no stored hash changes.

``entry_hash(prev_hash, entry)`` is ``SHA-256(prev_hash || canonical_bytes(entry))``, where the
first entry of an account (``seq`` 1, stored with ``prev_hash`` NULL) chains from 32 zero bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from decimal import Context, Decimal, InvalidOperation

from ledger_sink.errors import CanonicalEncodingError

__all__ = [
    "ENTRY_FIELDS",
    "GENESIS",
    "HASH_VERSION",
    "RESOLUTION_HASH_VERSION",
    "BrokenLink",
    "CanonicalEncodingError",
    "LedgerEntry",
    "canonical_bytes",
    "entry_hash",
    "seal",
    "verify_chain",
]

HASH_VERSION = 1
RESOLUTION_HASH_VERSION = 2
DECISION_KIND, RESOLUTION_KIND = "decision", "resolution"
HASH_SIZE = 32
# What the first entry of every account chains from (it is stored as NULL).
GENESIS = bytes(HASH_SIZE)
_SCALE = Decimal("0.0001")
# The widest column encoded is numeric(38, 4). Python's default context (28 digits) refused
# balances past 10**24; a wider context changes no encoding, it only reaches further.
_ENCODABLE = Context(prec=38, traps=[InvalidOperation])


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerEntry:
    """One row of ``ledger_entries``: the hashed fields, then the two links of the chain."""

    account_id: str
    seq: int
    transaction_id: str
    decision_id: str | uuid.UUID
    outcome: str
    amount: Decimal
    currency: str
    direction: str
    balance_after: Decimal
    created_at: datetime
    kind: str = DECISION_KIND
    resolution_id: str | uuid.UUID | None = None
    hash_version: int = HASH_VERSION
    prev_hash: bytes | None = None
    entry_hash: bytes | None = None


# The columns of ``ledger_entries`` a LedgerEntry is read from, in its fields' order.
ENTRY_FIELDS: tuple[str, ...] = tuple(spec.name for spec in fields(LedgerEntry))


@dataclass(frozen=True, slots=True)
class BrokenLink:
    """The first entry whose link does not hold, where it stands in the input, and why."""

    position: int
    account_id: str
    seq: int
    reason: str


def _amount(value: Decimal) -> str:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise CanonicalEncodingError(f"amount {value!r} is not a finite Decimal")
    try:
        scaled = value.quantize(_SCALE, context=_ENCODABLE)
    except InvalidOperation as exc:
        raise CanonicalEncodingError(f"amount {value} is too large to encode") from exc
    if scaled != value:
        raise CanonicalEncodingError(f"amount {value} has more than 4 decimal places")
    # numeric has no negative zero: -0.0000 is read back as 0.0000.
    return format(scaled.copy_abs() if scaled.is_zero() else scaled, "f")


def _instant(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise CanonicalEncodingError(f"naive datetime {moment.isoformat()}: use an aware one")
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    # isoformat pads the year to four digits, where strftime("%Y") may not.
    return utc.isoformat(timespec="microseconds") + "Z"


def _uuid(value: str | uuid.UUID | None, name: str = "decision_id") -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError as exc:
        raise CanonicalEncodingError(f"{name} {value!r} is not a UUID") from exc


def _version_fields(entry: LedgerEntry) -> dict[str, object]:
    """The keys that name the encoding: version 1 for decision entries, 2 for resolutions."""
    if entry.hash_version == HASH_VERSION and entry.kind == DECISION_KIND:
        if entry.resolution_id is not None:
            raise CanonicalEncodingError("a decision entry names no resolution")
        return {"v": HASH_VERSION}
    if entry.hash_version == RESOLUTION_HASH_VERSION and entry.kind == RESOLUTION_KIND:
        resolution = _uuid(entry.resolution_id, "resolution_id")
        return {"v": RESOLUTION_HASH_VERSION, "kind": entry.kind, "resolution_id": resolution}
    raise CanonicalEncodingError(
        f"no encoding for a {entry.kind!r} entry at hash version {entry.hash_version}"
    )


def canonical_bytes(entry: LedgerEntry) -> bytes:
    """The frozen byte encoding of `entry`'s hashed fields (see the module docstring)."""
    versioned = _version_fields(entry)
    if isinstance(entry.seq, bool) or not isinstance(entry.seq, int) or entry.seq < 1:
        raise CanonicalEncodingError(f"seq {entry.seq!r} is not a positive integer")
    document = {
        **versioned,
        "account_id": entry.account_id,
        "seq": entry.seq,
        "transaction_id": entry.transaction_id,
        "decision_id": _uuid(entry.decision_id),
        "outcome": entry.outcome,
        "amount": _amount(entry.amount),
        "currency": entry.currency,
        "direction": entry.direction,
        "balance_after": _amount(entry.balance_after),
        "created_at": _instant(entry.created_at),
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return text.encode("ascii")


def entry_hash(prev_hash: bytes | None, entry: LedgerEntry) -> bytes:
    """SHA-256 over the previous entry's hash (GENESIS when None) and `entry`'s encoding."""
    link = GENESIS if prev_hash is None else prev_hash
    if len(link) != HASH_SIZE:
        raise CanonicalEncodingError(f"prev_hash has {len(link)} bytes, not {HASH_SIZE}")
    return hashlib.sha256(bytes(link) + canonical_bytes(entry)).digest()


def seal(entry: LedgerEntry, prev_hash: bytes | None) -> LedgerEntry:
    """`entry` linked after `prev_hash` (None for an account's first entry), hash filled in."""
    return replace(entry, prev_hash=prev_hash, entry_hash=entry_hash(prev_hash, entry))


def _link_error(entry: LedgerEntry, last: tuple[int, bytes] | None) -> str | None:
    """Why `entry` does not follow `last` (its account's previous seq and hash), or None."""
    expected_seq = 1 if last is None else last[0] + 1
    if entry.seq != expected_seq:
        return f"seq {entry.seq} where {expected_seq} was expected"
    expected_prev = None if last is None else last[1]
    prev = None if entry.prev_hash == GENESIS and last is None else entry.prev_hash
    if prev != expected_prev:
        return "prev_hash is not the previous entry's entry_hash"
    try:
        recomputed = entry_hash(entry.prev_hash, entry)
    except CanonicalEncodingError as exc:
        return f"cannot encode the entry: {exc}"
    if entry.entry_hash is None or not hmac.compare_digest(entry.entry_hash, recomputed):
        return "entry_hash does not match the entry's contents"
    return None


def verify_chain(
    entries: Iterable[LedgerEntry], resume_from: Mapping[str, tuple[int, bytes]] | None = None
) -> BrokenLink | None:
    """The first broken link in `entries`, or None when every chain holds.

    `entries` may interleave accounts, but each account's entries must come complete (from
    seq 1) and in ascending seq order, as ``ORDER BY account_id, seq`` or ``ORDER BY
    entry_id`` returns them. A chain's missing tail is not detectable here: compare the last
    entry with ``balances.last_entry_id``.

    `resume_from` checks only a chain's tail: an account named there continues after the
    given (seq, entry_hash) of an entry read but not verified, so its entries before that
    one are taken on trust; its first entry in `entries` must follow it.
    """
    last_of: dict[str, tuple[int, bytes]] = dict(resume_from or {})
    for position, entry in enumerate(entries):
        reason = _link_error(entry, last_of.get(entry.account_id))
        if reason is not None or entry.entry_hash is None:
            return BrokenLink(position, entry.account_id, entry.seq, reason or "no entry_hash")
        last_of[entry.account_id] = (entry.seq, entry.entry_hash)
    return None
