"""One Redis round trip admits an ingest request: its rate-limit windows, idempotency claim, ids.

Counting a request against its key's windows, claiming its Idempotency-Key and claiming its
transaction ids were one round trip each (two windows, then a ``SET NX GET``, then the
registry's script); ``ADMIT_SCRIPT`` does them in order in one ``EVALSHA``, stopping where
today's calls stopped: a refused window claims nothing, a key already held (replay, in
flight, reused) claims no transaction id. Each step is the code it replaces, not a copy:
a window is the ``limits`` library's own acquire script (the same keys and arithmetic as
``limits``' strategy, which still reports a refusal's window), the ids are
``schemas.transaction_claims.CLAIM_SCRIPT``, which the agents run too.

``RedisBridge.SCRIPT_ACQUIRE_SLIDING_WINDOW`` and the window keys (``Window.of``) are
``limits``' internals, read here and nowhere else, written for limits 5.8.0 (pinned in
pyproject.toml); tests/integration/ingest_api/test_admission.py checks that ``limits``
reads back what this script counts, so an upgrade that changes either fails there first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import redis.asyncio as aioredis
from limits import RateLimitItem
from limits.aio.storage import RedisStorage
from limits.aio.storage.redis.bridge import RedisBridge

from schemas.transaction_claims import CLAIM_SCRIPT, Claim, script_call, text


def _function(name: str, body: str) -> str:
    """A whole script as a Lua function of its own KEYS and ARGV (its returns become the
    function's)."""
    return f"local {name} = function(KEYS, ARGV)\n{body}\nend\n"


# KEYS: each window's previous and current key, then the idempotency key and the ids' keys.
# ARGV: the number of windows, the number of ids (-1: count the windows only), each window's
# limit, expiry (s) and cost, then the pending entry, its lock (s), the ids' hashes and their
# window (s). Answers {refused window (1-based) or 0, the key's entry before, {ids' hashes}}.
ADMIT_SCRIPT: Final = (
    _function("acquire_window", RedisBridge.SCRIPT_ACQUIRE_SLIDING_WINDOW.decode())
    + _function("claim_ids", CLAIM_SCRIPT)
    + """
local windows, ids = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 1, windows do
  local a = 3 * i
  if not acquire_window({KEYS[2 * i - 1], KEYS[2 * i]}, {ARGV[a], ARGV[a + 1], ARGV[a + 2]}) then
    return {i}
  end
end
if ids < 0 then
  return {0}
end
local k, a = 2 * windows + 1, 3 * windows + 3
local entry = redis.call('SET', KEYS[k], ARGV[a], 'NX', 'GET', 'EX', ARGV[a + 1])
if entry then
  return {0, entry}
end
local id_keys, id_args = {}, {}
for i = 1, ids + 1 do
  id_keys[i], id_args[i] = KEYS[k + i], ARGV[a + 1 + i]
end
return {0, false, claim_ids(id_keys, id_args)}
"""
)


@dataclass(frozen=True, slots=True)
class Window:
    """One sliding window to count a request in, as ``limits``' acquire script takes it."""

    previous_key: str
    current_key: str
    limit: int
    expiry_s: int
    cost: int

    @classmethod
    def of(cls, item: RateLimitItem, key_id: str, cost: int) -> Window:
        """``item``'s window for ``key_id`` under the keys ``limits`` counts it in (and its
        strategy reads a refusal from): its storage's prefix, the item's key in braces (one
        cluster slot), ``/-1`` for the previous window."""
        current = f"{RedisStorage.PREFIX}:{{{item.key_for(key_id)}}}"
        return cls(f"{current}/-1", current, item.amount, item.get_expiry(), cost)


@dataclass(frozen=True, slots=True)
class Claims:
    """What a request claims once its windows admit it."""

    key: bytes  # the idempotency key
    pending: bytes  # its "in flight" entry
    lock_s: int
    ids: Sequence[Claim] = ()  # transaction ids with their hashes; none when the window is 0
    window_s: int = 0


@dataclass(frozen=True, slots=True)
class Admitted:
    refused: int | None  # the index of the window that refused the request
    entry: bytes | None = None  # what the idempotency key held (None: claimed now)
    ids: list[str | None] | None = None  # each id's hash before (None: claimed now)


class Admission:
    """The script, registered once (``EVALSHA`` from then on)."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._script = client.register_script(ADMIT_SCRIPT)

    async def __call__(self, windows: Sequence[Window], claims: Claims | None = None) -> Admitted:
        """Count ``windows`` in order and, if none refused, make ``claims``; RedisError
        propagates."""
        keys: list[Any] = [k for w in windows for k in (w.previous_key, w.current_key)]
        args: list[Any] = [len(windows), -1 if claims is None else len(claims.ids)]
        args += [v for w in windows for v in (w.limit, w.expiry_s, w.cost)]
        if claims is not None:
            id_keys, id_args = script_call(claims.ids, claims.window_s)
            keys += [claims.key, *id_keys]
            args += [claims.pending, claims.lock_s, *id_args]
        answer = await self._script(keys=keys, args=args)
        if answer[0]:
            return Admitted(refused=int(answer[0]) - 1)
        if len(answer) < 3:
            return Admitted(None, answer[1] if len(answer) > 1 else None)
        return Admitted(None, None, [text(old) for old in answer[2]])
