"""Byte-exact, compact serialisation of one account's state for the table changelog.

Every transaction writes its account's whole state to the changelog, so its size is what
the changelog grows by and what a restart re-reads. Decoding gives back exactly the state
that was encoded, and encoding a decoded state gives the same bytes. The first byte says
the format.

Format 2 (binary, written since issue 15), little-endian::

    header   format=2, next_seq, rows, first event time, first arrival number, string
             count, string bytes, first-seen counts (countries, devices, merchants), offset
             pairs, modes (ids packed, arrivals in order, each location column's), and one
             array type code per packed column
    strings  the first-seen countries, devices and merchants (least to most recently seen),
             then row values the first-seen memory forgot, UTF-8, NUL-separated; then the
             event ids unless they are packed
    ids      packed: 16 bytes each, when every id is a lowercase canonical UUID
    masks    per location column with some rows unknown, a byte per row (1 = unknown)
    columns  event-time deltas (ms), amounts (exact integer minor units), merchant and
             country as string numbers, latitudes and longitudes (integer microdegrees,
             known rows only), arrival numbers (none when they count up from the first),
             flags, applied offsets as ``partition, offset`` pairs sorted by partition:
             each a packed array of the first of a few 8- to 64-bit integer types that
             holds all its values (``_pack``)

Format 3 is format 2 with the account's ledger currency (issue 18): the same bytes after
the first, then the currency in UTF-8 and its length in one byte. A state without a
currency is still written in format 2, byte for byte as before, and states written in
format 1 or 2 decode with no currency (the pipeline learns it from the next transaction).

A state the binary layout cannot hold (an integer beyond 64 bits, a NUL inside a string)
is written in format 1, the JSON layout earlier versions wrote, which the decoder still
reads, so a changelog written before the upgrade keeps working: a JSON array ``[1,
next_seq, ts_deltas, ids, amounts, merchants, countries, lats, lons, seqs, flags,
seen_countries, seen_devices, seen_merchants, offsets]``, plus the currency as a 16th
element when the state has one.
"""

import sys
from array import array
from itertools import accumulate, chain, count
from operator import itemgetter, sub
from struct import Struct
from struct import error as StructError
from typing import Any, Final

import orjson

from decision_core.features.ids import IdColumn, pack_uuids
from decision_core.features.windows import DEFAULT_CONFIG, AccountWindows, FeatureConfig

FORMAT_VERSION: Final = 2
CURRENCY_FORMAT: Final = 3  # format 2 plus the account's currency at the end
JSON_FORMAT: Final = 1
_JSON_PARTS: Final = 15  # 16 with the currency
# ts deltas, amounts, merchants, countries, lats, lons, seqs, flags, offsets
_COLUMNS: Final = 9
# format, next_seq, rows, first ts, first seq, strings, string bytes, seen countries,
# devices, merchants, offset pairs, modes (id, seqs in order, lat, lon), column type codes
_HEADER: Final = Struct(f"<BqIqqIIIIIIB{_COLUMNS}s")
# Array type codes tried in order per column; the first that holds every value wins (so the
# bytes depend on the values alone). Starting where real values fit costs no failed tries.
_TIMES: Final = ("I", "Q", "q")  # ms between events, unsigned 32 bits up to 49 days
_AMOUNTS: Final = ("I", "Q", "q")  # minor units
_DEGREES: Final = ("i", "q")  # microdegrees
_SMALL: Final = ("B", "H", "I", "Q", "q")
_SWAP: Final = sys.byteorder == "big"  # the layout is little-endian; arrays are native
_ALL, _NONE, _SOME = 0, 1, 2  # location column modes: all known, none known, mixed


class StateDecodeError(ValueError):
    """Serialised account state that cannot be decoded."""


class _Unfit(Exception):
    """A state the binary layout cannot hold exactly (written as JSON instead)."""


def encode_state(state: AccountWindows) -> bytes:
    try:
        return _with_currency(_encode_binary(state), state.currency)
    except _Unfit:
        return _encode_json(state)


def decode_state(data: bytes, config: FeatureConfig = DEFAULT_CONFIG) -> AccountWindows:
    """Inverse of ``encode_state`` (any format); checks the layout, trusts the values."""
    if data[:1] == b"[":
        return _decode_json(data, config)
    if data[:1] not in (bytes([FORMAT_VERSION]), bytes([CURRENCY_FORMAT])):
        raise StateDecodeError("account state has an unknown format")
    try:
        body, currency = _split_currency(data)
        state = _decode_binary(body, config)
    except (StructError, IndexError, ValueError) as exc:
        raise StateDecodeError(f"account state is malformed: {exc}") from exc
    state.currency = currency
    return state


def _with_currency(data: bytes, currency: str | None) -> bytes:
    """Format 2 bytes as format 3 when there is a currency to keep."""
    if currency is None:
        return data
    raw = currency.encode("utf-8", "surrogatepass")
    if not 0 < len(raw) < 256:
        raise _Unfit("a currency code of more than 255 bytes")
    return b"".join([bytes([CURRENCY_FORMAT]), data[1:], raw, bytes([len(raw)])])


def _split_currency(data: bytes) -> tuple[bytes, str | None]:
    """Format 2 bytes and the currency of a format 2 or 3 state."""
    if data[0] == FORMAT_VERSION:
        return data, None
    size = data[-1]
    if not 0 < size < len(data) - 1:
        raise ValueError("the currency trailer is truncated")
    currency = data[-1 - size : -1].decode("utf-8", "surrogatepass")
    return bytes([FORMAT_VERSION]) + data[1 : -1 - size], currency


def _encode_binary(state: AccountWindows) -> bytes:
    ts, seqs, rows = state.ts, state.seqs, len(state.ts)
    seen = (state.seen_countries, state.seen_devices, state.seen_merchants)
    strings = [*seen[0], *seen[1], *seen[2]]
    number = dict(zip(strings, count()))
    try:
        merchants, countries = _pick(number, state.merchants), _pick(number, state.countries)
    except KeyError:  # a row's value the first-seen memory forgot: it joins the strings
        extras = dict.fromkeys(
            v for v in chain(state.merchants, state.countries) if v not in number
        )
        number.update(zip(extras, count(len(strings))))
        strings += extras
        merchants, countries = _pick(number, state.merchants), _pick(number, state.countries)
    index_codes = _index_codes(len(strings))
    column = state.id_column
    # Ids of other shapes may all have been pruned since: the column packs them again.
    ids = (column.packed if column.strings is None else pack_uuids(column.strings)) or b""
    id_mode = int(bool(ids))
    if not id_mode:
        strings += column.to_list()
    blob = "\0".join(strings)
    if blob.count("\0") != max(0, len(strings) - 1):
        raise _Unfit("a string holds a NUL")
    blob_bytes = blob.encode("utf-8", "surrogatepass")
    lats, lat_mode, lat_mask = _nullable(state.lats)
    lons, lon_mode, lon_mask = _nullable(state.lons)
    first_seq = seqs[0] if rows else 0
    in_order = seqs == list(range(first_seq, first_seq + rows))
    offsets = [x for p in sorted(state.applied_offsets) for x in (p, state.applied_offsets[p])]
    packed = (
        _pack(list(map(sub, ts[1:], ts)), _TIMES),
        _pack(state.amounts, _AMOUNTS),
        _pack(merchants, index_codes),
        _pack(countries, index_codes),
        _pack(lats, _DEGREES),
        _pack(lons, _DEGREES),
        _pack([] if in_order else seqs, _SMALL),
        _pack(state.flags, _SMALL),
        _pack(offsets, ("q",)),
    )
    header = _HEADER.pack(
        FORMAT_VERSION, _int64(state.next_seq), rows, _int64(ts[0]) if rows else 0,
        _int64(first_seq), len(strings), len(blob_bytes), *map(len, seen), len(offsets) // 2,
        id_mode | in_order << 1 | lat_mode << 2 | lon_mode << 4,
        "".join(code for code, _data in packed).encode(),
    )  # fmt: skip
    return b"".join([header, blob_bytes, ids, lat_mask, lon_mask, *(d for _c, d in packed)])


def _decode_binary(data: bytes, config: FeatureConfig) -> AccountWindows:
    (_f, next_seq, rows, ts0, first_seq, n_strings, blob_len, *seen_n, n_offsets, modes, codes) = (
        _HEADER.unpack_from(data)
    )
    pos = _HEADER.size
    strings = data[pos : pos + blob_len].decode("utf-8", "surrogatepass").split("\0")
    if len(strings) != n_strings:
        if n_strings or strings != [""]:
            raise StateDecodeError("account state string table has the wrong size")
        strings = []
    pos += blob_len
    ids: IdColumn | list[str]
    if modes & 1:
        if not rows or len(data) < pos + 16 * rows:
            raise StateDecodeError("account state ids are truncated")
        ids = IdColumn(data[pos : pos + 16 * rows])
        pos += 16 * rows
    elif rows <= n_strings:
        ids = strings[n_strings - rows :]
    else:
        raise StateDecodeError("account state has fewer strings than ids")
    location_modes = ((modes >> 2) & 3, (modes >> 4) & 3)
    masks = []
    for mode in location_modes:
        mask = data[pos : pos + rows] if mode == _SOME else b""
        masks.append(mask)
        pos += len(mask)
    sizes = _sizes(rows, not modes & 2, n_offsets, location_modes, masks)
    view = memoryview(data)
    columns = []
    for code, size in zip(codes.decode("ascii"), sizes, strict=True):
        column = array(code)
        end = pos + size * column.itemsize
        column.frombytes(view[pos:end])
        if _SWAP:
            column.byteswap()
        columns.append(column.tolist())
        pos = end
    if pos != len(data):
        raise StateDecodeError("account state has trailing or missing bytes")
    (deltas, amounts, merchants, countries, lats, lons, seqs, flags, offsets) = columns
    a, b, c = seen_n
    return AccountWindows.restore(
        config,
        next_seq,
        [
            list(accumulate(deltas, initial=ts0)) if rows else [],
            ids,
            amounts,
            _pick(strings, merchants),
            _pick(strings, countries),
            _restore_nullable(lats, location_modes[0], masks[0], rows),
            _restore_nullable(lons, location_modes[1], masks[1], rows),
            list(range(first_seq, first_seq + rows)) if modes & 2 else seqs,
            flags,
        ],
        [strings[:a], strings[a : a + b], strings[a + b : a + b + c]],
        dict(zip(offsets[::2], offsets[1::2], strict=True)),
    )


def _sizes(
    rows: int, seqs: bool, n_offsets: int, modes: tuple[int, int], masks: list[bytes]
) -> list[int]:
    """The number of values in each packed column."""

    def known(mode: int, mask: bytes) -> int:
        return rows if mode == _ALL else 0 if mode == _NONE else rows - sum(mask)

    located = [known(mode, mask) for mode, mask in zip(modes, masks, strict=True)]
    return [max(0, rows - 1), rows, rows, rows, *located, rows * seqs, rows, 2 * n_offsets]


def _pack(values: list[int], codes: tuple[str, ...]) -> tuple[str, bytes]:
    """The values as the first type of ``codes`` that holds them all (array checks every
    value in C, so no pass over them is spent choosing), little-endian."""
    for code in codes:
        try:
            packed = array(code, values)
        except OverflowError:
            continue
        if _SWAP:
            packed.byteswap()
        return code, packed.tobytes()
    raise _Unfit("an integer beyond 64 bits")


def _pick(source: Any, keys: list[Any]) -> list[Any]:
    """``[source[k] for k in keys]``, looked up in C."""
    if len(keys) > 1:
        return list(itemgetter(*keys)(source))
    return [source[keys[0]]] if keys else []


def _index_codes(strings: int) -> tuple[str, ...]:
    return _SMALL if strings <= 256 else _SMALL[1:] if strings <= 65536 else _SMALL[2:]


def _int64(value: int) -> int:
    if not -(2**63) <= value < 2**63:
        raise _Unfit("an integer beyond 64 bits")
    return value


def _nullable(values: list[int | None]) -> tuple[list[int], int, bytes]:
    """A location column's known values, its mode, and (when mixed) its unknown-row mask."""
    unknown = values.count(None)
    if not unknown:
        return values, _ALL, b""  # type: ignore[return-value]  # no None in it
    if unknown == len(values):
        return [], _NONE, b""
    return [v for v in values if v is not None], _SOME, bytes(v is None for v in values)


def _restore_nullable(known: list[int], mode: int, mask: bytes, rows: int) -> list[int | None]:
    if mode == _ALL:
        return known  # type: ignore[return-value]  # list is invariant
    if mode == _NONE:
        return [None] * rows
    values = iter(known)
    return [None if unknown else next(values) for unknown in mask]


def _encode_json(state: AccountWindows) -> bytes:
    ts = state.ts
    offsets = state.applied_offsets
    payload = [
        JSON_FORMAT,
        state.next_seq,
        ts[:1] + list(map(sub, ts[1:], ts)),
        *state.columns()[1:],
        list(state.seen_countries),
        list(state.seen_devices),
        list(state.seen_merchants),
        [x for partition in sorted(offsets) for x in (partition, offsets[partition])],
    ]
    if state.currency is not None:
        payload.append(state.currency)
    return orjson.dumps(payload)


def _decode_json(data: bytes, config: FeatureConfig) -> AccountWindows:
    payload = _load_json(data)
    offsets = payload[14]
    return AccountWindows.restore(
        config,
        payload[1],
        [list(accumulate(payload[2])), *payload[3:11]],
        payload[11:14],
        dict(zip(offsets[::2], offsets[1::2], strict=True)),
        payload[15] if len(payload) > _JSON_PARTS else None,
    )


def _load_json(data: bytes) -> list[Any]:
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise StateDecodeError(f"account state is not JSON: {exc}") from exc
    if (
        not isinstance(payload, list)
        or len(payload) not in (_JSON_PARTS, _JSON_PARTS + 1)
        or payload[0] != JSON_FORMAT
    ):
        raise StateDecodeError("account state has an unknown layout or version")
    if len(payload) > _JSON_PARTS and not isinstance(payload[15], str):
        raise StateDecodeError("account state currency must be a string")
    if not isinstance(payload[1], int):
        raise StateDecodeError("account state arrival counter must be an integer")
    if any(not isinstance(part, list) for part in payload[2:_JSON_PARTS]):
        raise StateDecodeError("account state columns must be arrays")
    if len({len(column) for column in payload[2:11]}) > 1:
        raise StateDecodeError("account state columns differ in length")
    if len(payload[14]) % 2:
        raise StateDecodeError("account state offsets must be partition/offset pairs")
    return payload
