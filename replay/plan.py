"""What to replay, as plain values: per-partition offset ranges and the parsing of options.

No I/O here (``source`` resolves times to offsets against the broker). A partition's range
is three offsets: records in ``[warm_from, start)`` only warm the feature state, records in
``[start, end)`` are decided and reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from decision_core.features.windows import RETENTION_MS, WINDOWS
from decision_core.transaction_features import FEATURE_CONFIG
from replay.errors import LiveTopicRefused, ReplayError
from schemas.topics import declared_topics

# The longest feature window plus the lateness the state accepts: every window of the first
# replayed event is then complete (the first-seen memory may still remember longer; see
# ``--warmup all``).
DEFAULT_WARMUP_MS = RETENTION_MS + FEATURE_CONFIG.allowed_lateness_ms
# A record decided less than this after the replay began reading its partition has windows
# that reach back before what was read: its features may be colder than the agent's were.
LONGEST_WINDOW_MS = max(length for _name, length in WINDOWS)
_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_PART = re.compile(r"(\d+)(ms|s|m|h|d)")


@dataclass(frozen=True, slots=True)
class PartitionRange:
    """One partition's offsets: warm-up from ``warm_from``, decide ``[start, end)``.

    ``cold_until_ms``: records with a broker timestamp before it are decided with less than
    the longest window of history read (a warm-up shorter than it); None: none are.
    """

    partition: int
    warm_from: int
    start: int
    end: int
    cold_until_ms: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.warm_from <= self.start <= self.end:
            raise ReplayError(
                f"partition {self.partition}: offsets must satisfy warm-up <= start <= end,"
                f" got {self.warm_from}, {self.start}, {self.end}"
            )

    @property
    def records(self) -> int:
        """Records read: warm-up and decided."""
        return self.end - self.warm_from

    @property
    def decided(self) -> int:
        return self.end - self.start


def parse_offsets(text: str | None) -> dict[int, int]:
    """``0:100,1:250`` -> {0: 100, 1: 250}; None or empty -> {}."""
    out: dict[int, int] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        partition, sep, offset = item.partition(":")
        if not sep or not partition.strip().isdigit() or not offset.strip().isdigit():
            raise ReplayError(f"bad offset {item!r}: write PARTITION:OFFSET, e.g. 0:100,1:250")
        out[int(partition)] = int(offset)
    return out


def parse_partitions(text: str | None) -> set[int] | None:
    """``0,3,5`` -> {0, 3, 5}; None -> None (every partition)."""
    if not text:
        return None
    try:
        return {int(p) for p in text.split(",") if p.strip()}
    except ValueError as exc:
        raise ReplayError(f"bad partition list {text!r}: write e.g. 0,3,5") from exc


def parse_duration(text: str) -> int | None:
    """Milliseconds of ``30d5m``, ``12h``, ``90s`` or ``0``; ``all`` -> None (the whole topic)."""
    text = text.strip().lower()
    if text == "all":
        return None
    if text == "0":
        return 0
    if not text or _PART.sub("", text):
        raise ReplayError(f"bad duration {text!r}: write e.g. 30d5m, 12h, 0 or all")
    return sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(text))


def format_duration(ms: int | None) -> str:
    """``30d5m``, ``12h``, ``0``; None -> ``all`` (the inverse of ``parse_duration``)."""
    if ms is None:
        return "all"
    parts = []
    for unit, size in sorted(_UNITS.items(), key=lambda kv: -kv[1]):
        if ms >= size:
            parts.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(parts) or "0"


def is_short_warmup(warmup_ms: int | None) -> bool:
    """Whether a warm-up leaves the longest feature window of the first records cold."""
    return warmup_ms is not None and warmup_ms < LONGEST_WINDOW_MS


def parse_instant(text: str) -> datetime:
    """An ISO 8601 timestamp; without a zone it is read as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ReplayError(
            f"bad timestamp {text!r}: write ISO 8601, e.g. 2026-11-30T09:00Z"
        ) from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def to_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def live_topic_names(prefix: str) -> set[str]:
    """Every declared topic's name, bare and with the prefix in use."""
    return {spec.name for spec in declared_topics()} | {
        spec.name for spec in declared_topics(prefix)
    }


def check_output_topic(name: str, prefix: str, source: str) -> str:
    """``name`` if replayed decisions may go there; raises LiveTopicRefused for a live topic."""
    if not name.strip():
        raise ReplayError("--to-topic needs a topic name")
    if name in live_topic_names(prefix) or name == source:
        raise LiveTopicRefused(
            f"refusing to publish replayed decisions to {name!r}: it is a live topic;"
            " name a topic of its own, e.g. replay.decisions"
        )
    return name


@dataclass(frozen=True, slots=True)
class RuleRef:
    """A rule of the PostgreSQL rules table: its id (or name) and a version (None: latest)."""

    rule: str
    version: int | None = None

    @classmethod
    def parse(cls, text: str) -> RuleRef:
        rule, sep, version = text.rpartition("@")
        if not sep:
            return cls(text.strip())
        if not version.isdigit() or int(version) < 1 or not rule.strip():
            raise ReplayError(f"bad rule reference {text!r}: write RULE_ID or RULE_ID@VERSION")
        return cls(rule.strip(), int(version))
