"""Per-account event-time state: retained events, first-seen memory and applied offsets.

Window edge (the one definition every windowed feature uses)
    For an event at event time ``t`` (epoch ms, UTC) the window of length ``W`` holds the
    account's previously accepted events ``e`` with ``t - W < e.ts_ms <= t``, plus the
    current event itself. An event exactly ``W`` older than ``t`` is out; one at the same
    millisecond as ``t`` is in, whatever its id. Windows slide with every event (no
    buckets): 1 h, 24 h, 7 d and 30 d (``WINDOWS``). Retained events are kept sorted by
    ``(ts_ms, event_id)``; that order breaks ties wherever order matters.

Lateness and retention
    ``max_ts`` is the greatest accepted ``ts_ms``. An event with
    ``ts_ms >= max_ts - allowed_lateness_ms`` is *accepted*: inserted at its place even if
    it arrives out of order. An older one is *late*: it is scored against the state but is
    never stored and changes nothing (the caller sees ``late=True``). After each insert,
    events with ``ts_ms <= max_ts - allowed_lateness_ms - 30 d`` are dropped: no event that
    can still be accepted has them in its windows. A late event's windows may therefore be
    cut at that horizon.

Duplicates
    The ids of retained events are remembered. An event with a remembered id is a
    redelivery: it is not counted again, changes nothing, and is scored as of its first
    arrival (stored fields and first-seen flags, window made of the events that arrived
    before it). That repeats the first result exactly while the original is not older
    than ``max_ts - allowed_lateness_ms``; for older ones the 30-day window may since have
    been cut at the horizon. A redelivered late or pruned event is late again.

First-seen memory
    The countries, devices and merchants of accepted events, each at most ``max_seen``
    (default 500) values in least-recently-seen order, where recency is arrival order; past
    the bound the least recently seen is forgotten. So "new" means "not among the
    ``max_seen`` most recently seen distinct values". Late events and duplicates leave it
    alone. An event without a device id has an unknown (not new) device.

Currency
    ``currency`` is the currency of the account's first decided transaction, the one its
    ledger is kept in; the pipeline declines a transaction in another before it is decided
    (``decision_core.ledger_policy``).

Applied offsets
    ``applied_offsets`` maps a source partition to the highest offset applied to this
    state; ``should_apply`` is false at or below it. Stored with the state, it makes a
    redelivered record harmless even after the state was restored from its changelog.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any, Final

from decision_core.features.event import FeatureEvent
from decision_core.features.ids import IdColumn
from decision_core.features.view import MICRO, Tally, WindowView, micro_location, tally

HOUR_MS: Final = 3_600_000
DAY_MS: Final = 24 * HOUR_MS
WINDOWS: Final[tuple[tuple[str, int], ...]] = (
    ("1h", HOUR_MS),
    ("24h", DAY_MS),
    ("7d", 7 * DAY_MS),
    ("30d", 30 * DAY_MS),
)
RETENTION_MS: Final = 30 * DAY_MS

# First-seen flags of a stored event, kept so that a duplicate is scored as it first was.
NEW_COUNTRY: Final = 1
NEW_MERCHANT: Final = 2
NEW_DEVICE: Final = 4
NO_DEVICE: Final = 8


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """Engine-wide settings; the same values must be used live, in training and in replay."""

    allowed_lateness_ms: int = 5 * 60_000
    max_seen: int = 500
    minor_per_major: int = 100
    tz: tzinfo = UTC

    def __post_init__(self) -> None:
        if self.allowed_lateness_ms < 0 or self.max_seen < 1 or self.minor_per_major < 1:
            raise ValueError(f"invalid feature config: {self!r}")


DEFAULT_CONFIG: Final = FeatureConfig()


def _touch(seen: dict[str, None], key: str, cap: int) -> None:
    # A dict keeps insertion order: re-inserting moves the key to the most recent end.
    seen.pop(key, None)
    seen[key] = None
    _trim(seen, cap)


def _trim(seen: dict[str, None], cap: int) -> None:
    while len(seen) > cap:
        del seen[next(iter(seen))]  # the least recently seen key comes first


class AccountWindows:
    """One account's retained events (parallel columns sorted by ``(ts_ms, event_id)``)."""

    __slots__ = (
        "config", "ts", "amounts", "merchants", "countries", "lats", "lons",
        "seqs", "flags", "next_seq", "seen_countries", "seen_devices", "seen_merchants",
        "applied_offsets", "currency", "id_column", "_tally",
    )  # fmt: skip

    def __init__(self, config: FeatureConfig = DEFAULT_CONFIG) -> None:
        self.config = config
        self.ts: list[int] = []
        self.id_column = IdColumn()  # the event ids (``ids``), packed while they are UUIDs
        self.amounts: list[int] = []
        self.merchants: list[str] = []
        self.countries: list[str] = []
        self.lats: list[int | None] = []
        self.lons: list[int | None] = []
        self.seqs: list[int] = []  # arrival number: what "before it" means for a duplicate
        self.flags: list[int] = []
        self.next_seq = 0
        self.seen_countries: dict[str, None] = {}
        self.seen_devices: dict[str, None] = {}
        self.seen_merchants: dict[str, None] = {}
        self.applied_offsets: dict[int, int] = {}
        # The account's ledger currency: its first decided transaction's, as the ledger's
        # balance row takes it (``ledger_sink.ledger``). None until then, and in states
        # written before it was kept.
        self.currency: str | None = None
        # Maintained over all retained rows: a window's tally is this minus a few edge rows.
        self._tally = Tally({}, 0, 0, 0)

    @property
    def max_ts(self) -> int | None:
        """Greatest accepted event time; pruning never removes it."""
        return self.ts[-1] if self.ts else None

    def is_late(self, ts_ms: int) -> bool:
        return bool(self.ts) and ts_ms < self.ts[-1] - self.config.allowed_lateness_ms

    @property
    def ids(self) -> list[str]:
        """The event ids in row order (a copy)."""
        return self.id_column.to_list()

    def index_of(self, event_id: str) -> int | None:
        """Row of a retained event, or None when the id is not remembered."""
        return self.id_column.find(event_id)

    def view(self, ts_ms: int) -> WindowView:
        """Window of a new event at ``ts_ms``: every retained event in (ts - 30 d, ts]."""
        hi = bisect_right(self.ts, ts_ms)
        lo = bisect_right(self.ts, ts_ms - RETENTION_MS, 0, hi)
        return WindowView(
            self._window_tally(lo, hi), self.ts, self.amounts, self.merchants,
            self.countries, self.lats, self.lons, lo, hi,
        )  # fmt: skip

    def _window_tally(self, lo: int, hi: int) -> Tally:
        """Tally of rows [lo, hi): all retained rows minus the (usually few) others."""
        whole = self._tally
        if lo == 0 and hi == len(self.ts):
            return whole
        edge = tally(
            self.countries[:lo] + self.countries[hi:],
            self.lats[:lo] + self.lats[hi:],
            self.lons[:lo] + self.lons[hi:],
        )
        counts = {c: n - edge.countries.get(c, 0) for c, n in whole.countries.items()}
        return Tally(
            counts,
            whole.located - edge.located,
            whole.lat_sum - edge.lat_sum,
            whole.lon_sum - edge.lon_sum,
        )

    def view_as_of(self, row: int) -> WindowView:
        """Window of a stored event as it first arrived: only events that came before it."""
        ts_ms, seq = self.ts[row], self.seqs[row]
        hi = bisect_right(self.ts, ts_ms)
        lo = bisect_right(self.ts, ts_ms - RETENTION_MS, 0, hi)
        rows = [i for i in range(lo, hi) if self.seqs[i] < seq]
        countries = [self.countries[i] for i in rows]
        lats, lons = [self.lats[i] for i in rows], [self.lons[i] for i in rows]
        return WindowView(
            tally(countries, lats, lons),
            [self.ts[i] for i in rows],
            [self.amounts[i] for i in rows],
            [self.merchants[i] for i in rows],
            countries,
            lats,
            lons,
            0,
            len(rows),
        )

    def stored_event(self, row: int) -> FeatureEvent:
        """A retained event rebuilt from its columns (its device survives only as flags)."""
        lat, lon = self.lats[row], self.lons[row]
        return FeatureEvent(
            self.id_column[row], self.ts[row], self.amounts[row], self.merchants[row],
            self.countries[row], None,
            None if lat is None else lat / MICRO, None if lon is None else lon / MICRO,
        )  # fmt: skip

    def first_seen_flags(self, event: FeatureEvent) -> int:
        flags = 0 if event.country in self.seen_countries else NEW_COUNTRY
        if event.merchant_id not in self.seen_merchants:
            flags |= NEW_MERCHANT
        if event.device_id is None:
            flags |= NO_DEVICE
        elif event.device_id not in self.seen_devices:
            flags |= NEW_DEVICE
        return flags

    def insert(self, event: FeatureEvent, flags: int) -> None:
        """Store an accepted event at its ``(ts_ms, event_id)`` place, then prune."""
        ts_ms, event_id = event.ts_ms, event.event_id
        lat, lon = micro_location(event.lat, event.lon) or (None, None)
        lo = bisect_left(self.ts, ts_ms)
        at = self.id_column.insert(lo, bisect_right(self.ts, ts_ms, lo), event_id)
        row = (
            ts_ms, event.amount_minor, event.merchant_id, event.country,
            lat, lon, self.next_seq, flags,
        )  # fmt: skip
        for column, value in zip(self._valued(), row, strict=True):
            column.insert(at, value)
        self._add_to_tally(Tally({event.country: 1}, int(lat is not None), lat or 0, lon or 0), 1)
        self.next_seq += 1
        cap = self.config.max_seen
        _touch(self.seen_countries, event.country, cap)
        _touch(self.seen_merchants, event.merchant_id, cap)
        if event.device_id is not None:
            _touch(self.seen_devices, event.device_id, cap)
        self._prune()

    def columns(self) -> tuple[list[Any], ...]:
        """Row columns: ts, ids, amounts, merchants, countries, lats, lons, seqs, flags
        (the ids a copy)."""
        return (self.ts, self.ids, *self._valued()[1:])

    def _valued(self) -> tuple[list[Any], ...]:
        """The row columns but the ids: ts, amounts, merchants, countries, lats, lons,
        seqs, flags."""
        return (
            self.ts, self.amounts, self.merchants, self.countries,
            self.lats, self.lons, self.seqs, self.flags,
        )  # fmt: skip

    def _prune(self) -> None:
        if not self.ts:
            return
        horizon = self.ts[-1] - self.config.allowed_lateness_ms - RETENTION_MS
        cut = bisect_right(self.ts, horizon)
        if cut:
            self.id_column.drop_first(cut)
            self._add_to_tally(tally(self.countries[:cut], self.lats[:cut], self.lons[:cut]), -1)
            for column in self._valued():
                del column[:cut]

    def _add_to_tally(self, part: Tally, sign: int) -> None:
        whole = self._tally
        counts = whole.countries
        for country, n in part.countries.items():
            left = counts.get(country, 0) + sign * n
            if left:
                counts[country] = left
            else:
                del counts[country]
        self._tally = Tally(
            counts,
            whole.located + sign * part.located,
            whole.lat_sum + sign * part.lat_sum,
            whole.lon_sum + sign * part.lon_sum,
        )

    @classmethod
    def restore(
        cls,
        config: FeatureConfig,
        next_seq: int,
        columns: Sequence[Any],
        seen: Sequence[list[str]],
        applied_offsets: dict[int, int],
        currency: str | None = None,
    ) -> "AccountWindows":
        """Rebuild a state from its parts (see ``codec``), applying ``config`` bounds; the
        ids (``columns[1]``) as a list or an ``IdColumn`` (which the state then owns)."""
        state = cls(config)
        state.next_seq = next_seq
        state.currency = currency
        ts, ids, *valued = columns
        for column, values in zip(state._valued(), [ts, *valued], strict=True):
            column.extend(values)
        state.id_column = ids if isinstance(ids, IdColumn) else IdColumn.of(list(ids))
        if len(state.id_column) != len(state.ts):
            raise ValueError("a state's ids and rows differ in number")
        state._tally = tally(state.countries, state.lats, state.lons)
        targets = (state.seen_countries, state.seen_devices, state.seen_merchants)
        for target, keys in zip(targets, seen, strict=True):
            target.update(dict.fromkeys(keys))
            _trim(target, config.max_seen)
        state.applied_offsets = dict(applied_offsets)
        state._prune()  # a shorter lateness in ``config`` may retire rows
        return state

    def should_apply(self, partition: int, offset: int) -> bool:
        """False when this source offset (or a later one) was already applied."""
        last = self.applied_offsets.get(partition)
        return last is None or offset > last

    def mark_applied(self, partition: int, offset: int) -> None:
        """Record that ``offset`` of ``partition`` was applied; the mark never moves back."""
        if partition < 0 or offset < 0:
            raise ValueError(f"invalid source position {partition}:{offset}")
        if offset > self.applied_offsets.get(partition, -1):
            self.applied_offsets[partition] = offset
