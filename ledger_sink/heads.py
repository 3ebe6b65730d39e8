"""Signed chain heads: what makes the ledger's tail impossible to re-seal from inside the database.

A hash chain alone proves nothing to someone who can write rows: a forger edits an entry and
re-hashes every later one. So the sink signs each account's chain head (entry id, seq and
entry hash) with a key the database never holds and publishes it outside the database, on the
compacted ``ledger-heads`` topic (key: the account id, so the newest head per account stays).
`sentinel ledger verify` then requires the chain to pass through each signed head: a tail
re-hashed after the head was signed no longer does.

The signature is HMAC-SHA256 (the ``cryptography`` package is not a dependency, and the
verifier is the operator who holds the sink's secret anyway), over the canonical bytes of
version 1 below; a record names its key by ``key_id`` (a digest of the key, not the key), so a
rotated key is told apart from a forgery. Pure: no Kafka, no database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from ledger_sink.hashchain import LedgerEntry

HEAD_VERSION = 1
# A signing key shorter than this is refused (settings): HMAC keys want SHA-256's block size.
MIN_KEY_BYTES = 32


class HeadError(ValueError):
    """A record of the heads topic that cannot be read as a signed head."""


@dataclass(frozen=True, slots=True)
class Head:
    """An account's chain head as the sink just committed it."""

    account_id: str
    entry_id: int
    seq: int
    entry_hash: bytes


@dataclass(frozen=True, slots=True)
class SignedHead:
    head: Head
    signed_at: datetime
    key_id: str
    signature: bytes


def key_id(key: bytes) -> str:
    """A short public name of `key`: which key signed, never enough to sign."""
    return hashlib.sha256(b"sentinel-ledger-heads/key-id\x00" + key).hexdigest()[:16]


def _signed_bytes(head: Head, signed_at: datetime) -> bytes:
    document = {
        "v": HEAD_VERSION,
        "account_id": head.account_id,
        "entry_id": head.entry_id,
        "seq": head.seq,
        "entry_hash": head.entry_hash.hex(),
        "signed_at": signed_at.astimezone(UTC).isoformat(timespec="microseconds"),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")


def sign(head: Head, key: bytes, now: datetime) -> SignedHead:
    signature = hmac.new(key, _signed_bytes(head, now), hashlib.sha256).digest()
    return SignedHead(head, now, key_id(key), signature)


def signature_error(signed: SignedHead, key: bytes) -> str | None:
    """Why `signed` is not a head signed with `key`, or None."""
    if signed.key_id != key_id(key):
        return f"signed with another key ({signed.key_id}, not {key_id(key)})"
    expected = hmac.new(key, _signed_bytes(signed.head, signed.signed_at), hashlib.sha256)
    if not hmac.compare_digest(expected.digest(), signed.signature):
        return "its signature does not match its contents: forged or altered"
    return None


def encode(signed: SignedHead) -> bytes:
    head = signed.head
    return json.dumps(
        {
            "v": HEAD_VERSION,
            "account_id": head.account_id,
            "entry_id": head.entry_id,
            "seq": head.seq,
            "entry_hash": head.entry_hash.hex(),
            "signed_at": signed.signed_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "key_id": signed.key_id,
            "signature": signed.signature.hex(),
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode("ascii")


def decode(value: bytes) -> SignedHead:
    try:
        doc = json.loads(value)
        if doc["v"] != HEAD_VERSION:
            raise HeadError(f"unknown head version {doc['v']!r}")
        head = Head(
            str(doc["account_id"]), int(doc["entry_id"]), int(doc["seq"]),
            bytes.fromhex(doc["entry_hash"]),
        )  # fmt: skip
        signed_at = datetime.fromisoformat(doc["signed_at"])
        return SignedHead(head, signed_at, str(doc["key_id"]), bytes.fromhex(doc["signature"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise HeadError(f"not a signed head: {exc}") from exc


def head_mismatch(signed: Head, entry: LedgerEntry, entry_id: int) -> str | None:
    """Why the stored entry at the signed head's seq is not the one that was signed, or None."""
    if entry_id != signed.entry_id:
        return f"entry {entry_id} stands where entry {signed.entry_id} was signed"
    if entry.entry_hash is None or not hmac.compare_digest(entry.entry_hash, signed.entry_hash):
        return "its hash is not the signed head's: the chain was re-sealed after it was signed"
    return None


def newest(records: list[bytes]) -> dict[str, SignedHead]:
    """The newest signed head per account among `records` (in topic order); raises HeadError."""
    out: dict[str, SignedHead] = {}
    for value in records:
        signed = decode(value)
        known = out.get(signed.head.account_id)
        if known is None or signed.head.seq >= known.head.seq:
            out[signed.head.account_id] = signed
    return out
