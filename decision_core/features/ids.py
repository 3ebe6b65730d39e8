"""The event ids of an account's retained events (``windows.AccountWindows``), in row order.

Nearly every id is a canonical lowercase UUID (the API's, most gateways'): while all of
them are, the column holds them packed, 16 bytes each, as the state's codec writes them,
so that decoding a state does not format them into text and encoding it does not parse
them again (each was ~10 % of the agent's decision code). Whether an event is a
redelivery is a search of those bytes. An id of any other shape turns the column into
plain strings for good (the codec then writes them with the state's strings).

The bytes of lowercase UUIDs sort as their text does (hex digits are in ASCII order and
the hyphens sit at fixed places), so row order is the same in either form.
"""

from __future__ import annotations

from binascii import hexlify
from bisect import bisect_left
from functools import lru_cache
from typing import Any

import numpy as np


class IdColumn:
    """The ids of the rows: ``packed`` (16 bytes a row) or, once any id is no canonical
    UUID, ``strings`` (with a set to look them up)."""

    __slots__ = ("packed", "strings", "_known", "_found")

    def __init__(self, packed: bytes = b"", strings: list[str] | None = None) -> None:
        self.packed = packed  # unused once ``strings`` is not None
        self.strings = strings
        self._known: set[str] = set() if strings is None else set(strings)
        # The last search of the packed ids (id, ids searched, row, the id's bytes):
        # deciding an event asks for its id a few times, then inserts it.
        self._found: tuple[str, bytes, int | None, bytes | None] = ("", b"", None, None)

    @classmethod
    def of(cls, ids: list[str]) -> IdColumn:
        raw = pack_uuids(ids)
        return cls(b"", list(ids)) if raw is None else cls(raw)

    def __len__(self) -> int:
        return len(self.packed) // 16 if self.strings is None else len(self.strings)

    def __getitem__(self, row: int) -> str:
        if self.strings is not None:
            return self.strings[row]
        if not 0 <= row < len(self):
            raise IndexError(row)
        return unpack_uuids(self.packed[16 * row : 16 * row + 16], 1)[0]

    def to_list(self) -> list[str]:
        if self.strings is not None:
            return list(self.strings)
        return unpack_uuids(self.packed, len(self)) if self.packed else []

    def find(self, event_id: str) -> int | None:
        """The row of ``event_id``, or None when it is not among them."""
        if self.strings is not None:
            return self.strings.index(event_id) if event_id in self._known else None
        last_id, last_packed, last_row, _raw = self._found
        if last_id == event_id and last_packed is self.packed:
            return last_row
        raw = uuid_bytes(event_id)
        row = None
        if raw is not None:  # else no canonical UUID: none of the packed ids
            at = self.packed.find(raw)
            while at >= 0 and at % 16:  # a match across two ids
                at = self.packed.find(raw, at + 1)
            row = None if at < 0 else at // 16
        self._found = (event_id, self.packed, row, raw)
        return row

    def insert(self, lo: int, hi: int, event_id: str) -> int:
        """Insert a new ``event_id`` among rows [lo, hi) (those of its event time) in id
        order, at ``lo`` when there are none; return its row."""
        raw = None
        if self.strings is None:
            last_id, _packed, _row, raw = self._found
            raw = raw if last_id == event_id else uuid_bytes(event_id)
        if raw is None:
            strings = self.to_list() if self.strings is None else self.strings
            at = bisect_left(strings, event_id, lo, hi)
            strings.insert(at, event_id)
            self._known.add(event_id)
            if self.strings is None:
                self.strings, self.packed, self._known = strings, b"", set(strings)
            return at
        at = lo
        if hi > lo:
            same = [self.packed[16 * r : 16 * r + 16] for r in range(lo, hi)]
            at = lo + bisect_left(same, raw)
        if 16 * at == len(self.packed):  # the latest event, as a rule
            self.packed += raw
        else:
            self.packed = b"".join((self.packed[: 16 * at], raw, self.packed[16 * at :]))
        return at

    def drop_first(self, rows: int) -> None:
        """Remove the first ``rows`` ids."""
        if self.strings is None:
            self.packed = self.packed[16 * rows :]
            return
        self._known.difference_update(self.strings[:rows])
        del self.strings[:rows]


def uuid_bytes(event_id: str) -> bytes | None:
    """The 16 bytes of a canonical lowercase UUID's text, or None for any other text."""
    if len(event_id) != 36 or event_id[8] != "-" or event_id[13] != "-":
        return None
    if event_id[18] != "-" or event_id[23] != "-":
        return None
    digits = event_id.replace("-", "")
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        return None
    # fromhex reads upper case and skips spaces, which would not come back the same.
    return raw if len(raw) == 16 and raw.hex() == digits else None


def pack_uuids(ids: list[str]) -> bytes | None:
    """The ids as 16 bytes each when every one is a canonical lowercase UUID, else None."""
    packed = []
    for event_id in ids:
        raw = uuid_bytes(event_id)
        if raw is None:
            return None
        packed.append(raw)
    return b"".join(packed)


def unpack_uuids(raw: bytes, rows: int) -> list[str]:
    """``rows`` ids of 16 bytes each as canonical lowercase UUID text."""
    # In C: the hex digits, a hyphen and a NUL gathered into "<uuid>\0<uuid>...", then split.
    digits = np.frombuffer(hexlify(raw) + b"-\0", np.uint8)
    return digits.take(_uuid_gather(rows)).tobytes().decode("ascii").split("\0")


@lru_cache(maxsize=256)
def _uuid_gather(rows: int) -> np.ndarray[Any, np.dtype[np.int32]]:
    """Where each character of ``rows`` NUL-separated canonical UUIDs comes from in their
    hex digits (followed by a hyphen and a NUL)."""
    hyphen, nul = 32 * rows, 32 * rows + 1
    one = [*range(8), -1, *range(8, 12), -1, *range(12, 16), -1, *range(16, 20), -1]
    one += [*range(20, 32), -2]
    base = np.array(one, dtype=np.int64)
    grid = np.arange(rows, dtype=np.int64)[:, None] * 32 + base
    grid = np.where(base == -1, hyphen, np.where(base == -2, nul, grid))
    return grid.ravel()[:-1].astype(np.int32)
