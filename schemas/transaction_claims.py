"""The transaction id registry's contract: one Redis key per id, holding its content hash.

Whoever publishes or decides a transaction claims ``txid:<transaction_id>`` with the first
16 bytes (hex) of its content hash (``schemas.fingerprint``), with ``SET NX GET`` and a TTL
(the window, ``DEFAULT_WINDOW_S`` unless configured): the API before it publishes
(``ingest_api.transaction_ids``, a 409 for a conflict), the agents before they decide a
micro-batch (``stream_agents.txid_claims``, a dead letter), so a record a gateway produced
straight to Kafka is checked against every account too. Both sides must write the same key
and the same value, hence this module; it is pure (no Redis import). The answer of each
``SET NX GET`` is the hash the id held before (None: it was free). The same hash again is a
retry or a redelivery: harmless. Another hash is a reused id: the first claim wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from schemas.fingerprint import transaction_fingerprint
from schemas.records import Transaction

KEY_PREFIX: Final = "txid:"
# How long a claim lasts (the API's SENTINEL_API_TRANSACTION_ID_WINDOW_S, which the agents
# read too). Past it, the ledger sink's check against booked rows is the backstop.
DEFAULT_WINDOW_S: Final = 900
# 128 bits are plenty to tell two bodies of one id apart, and keep each entry small.
_HASH_CHARS: Final = 32

Claim = tuple[str, str]  # (transaction id, short fingerprint)
# The claim itself, for every claimer: one script call per batch. KEYS: the ids' keys;
# ARGV: their hashes, then the window (s). Answers, per key, the hash it held before (nil:
# free until now). One command instead of one SET per id: measured, a quarter of the client
# CPU and less than half the wait of a pipeline at 500 ids (bench/bench_claims.py).
CLAIM_SCRIPT: Final = """
local window = ARGV[#ARGV]
local before = {}
for i, key in ipairs(KEYS) do
  before[i] = redis.call('SET', key, ARGV[i], 'NX', 'GET', 'EX', window) or false
end
return before
"""


def short_fingerprint(tx: Transaction) -> str:
    """The value a claim stores: the content hash's first 32 hex digits."""
    return transaction_fingerprint(tx)[:_HASH_CHARS]


def claim_key(transaction_id: str) -> str:
    return f"{KEY_PREFIX}{transaction_id}"


def claim_of(tx: Transaction) -> Claim:
    return tx.transaction_id, short_fingerprint(tx)


def script_call(claims: Sequence[Claim], window_s: int) -> tuple[list[str], list[str | int]]:
    """``CLAIM_SCRIPT``'s keys and arguments for ``claims``."""
    keys = [claim_key(tid) for tid, _fingerprint in claims]
    return keys, [*(fingerprint for _tid, fingerprint in claims), window_s]


def conflicts(claims: Sequence[Claim], previous: Sequence[str | None]) -> list[bool]:
    """Per claim, whether the id was already claimed with another content hash.

    ``previous`` holds the answers of the claims' ``SET NX GET``, sent in order: a second
    claim of an id within one pipeline sees the first one's hash, so two bodies of one id
    in one batch are told apart too, the first in order winning.
    """
    return [
        old is not None and old != fingerprint
        for (_tid, fingerprint), old in zip(claims, previous, strict=True)
    ]


def created(claims: Sequence[Claim], previous: Sequence[str | None]) -> list[Claim]:
    """The claims that found their id free: the only ones their maker may release."""
    return [claim for claim, old in zip(claims, previous, strict=True) if old is None]


def text(value: object) -> str | None:
    """A Redis answer (bytes or str, or None) as text."""
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
