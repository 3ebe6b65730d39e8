"""Byte-exact, compact serialisation of one account's state for the table changelog.

Layout (format 1): a JSON array ``[1, next_seq, ts_deltas, ids, amounts, merchants,
countries, lats, lons, seqs, flags, seen_countries, seen_devices, seen_merchants,
offsets]``: the row columns as stored (event times delta-encoded, locations in integer
microdegrees or null), the first-seen memory from least to most recently seen, and the
applied offsets flattened as ``partition, offset`` pairs sorted by partition. Encoding a
decoded state gives the same bytes.
"""

from itertools import accumulate
from operator import sub
from typing import Any, Final

import orjson

from decision_core.features.windows import DEFAULT_CONFIG, AccountWindows, FeatureConfig

FORMAT_VERSION: Final = 1
_PARTS: Final = 15


class StateDecodeError(ValueError):
    """Serialised account state that cannot be decoded."""


def encode_state(state: AccountWindows) -> bytes:
    ts = state.ts
    offsets = state.applied_offsets
    payload = [
        FORMAT_VERSION,
        state.next_seq,
        ts[:1] + list(map(sub, ts[1:], ts)),
        *state.columns()[1:],
        list(state.seen_countries),
        list(state.seen_devices),
        list(state.seen_merchants),
        [x for partition in sorted(offsets) for x in (partition, offsets[partition])],
    ]
    return orjson.dumps(payload)


def decode_state(data: bytes, config: FeatureConfig = DEFAULT_CONFIG) -> AccountWindows:
    """Inverse of ``encode_state``; checks the layout, trusts the values it wrote."""
    payload = _load(data)
    offsets = payload[14]
    return AccountWindows.restore(
        config,
        payload[1],
        [list(accumulate(payload[2])), *payload[3:11]],
        payload[11:14],
        dict(zip(offsets[::2], offsets[1::2], strict=True)),
    )


def _load(data: bytes) -> list[Any]:
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise StateDecodeError(f"account state is not JSON: {exc}") from exc
    if not isinstance(payload, list) or len(payload) != _PARTS or payload[0] != FORMAT_VERSION:
        raise StateDecodeError("account state has an unknown layout or version")
    if not isinstance(payload[1], int):
        raise StateDecodeError("account state arrival counter must be an integer")
    if any(not isinstance(part, list) for part in payload[2:]):
        raise StateDecodeError("account state columns must be arrays")
    if len({len(column) for column in payload[2:11]}) > 1:
        raise StateDecodeError("account state columns differ in length")
    if len(payload[14]) % 2:
        raise StateDecodeError("account state offsets must be partition/offset pairs")
    return payload
