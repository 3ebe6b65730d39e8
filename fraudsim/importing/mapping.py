"""The mapping file: where each contract field of an imported row comes from, and how to read it.

A TOML file (read with the stdlib ``tomllib``), checked whole before any row is read: an
unknown key, a field mapped twice, a required field left unmapped, a constant the live path
would refuse or a time zone that does not exist is a ``MappingError`` naming it. The format
is documented in docs/bank-data.md ("Import"), with a complete example in docs/examples/.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fraudsim.tables import TRANSACTION_COLUMNS
from schemas.enums import Channel, TxType
from schemas.records import Transaction
from schemas.validation import country_problem, currency_problem

NAMED_TIME_FORMATS: Final = ("iso8601", "epoch_s", "epoch_ms")
AMOUNT_FORMATS: Final = ("decimal", "minor_units")
ENUMS: Final[dict[str, tuple[str, ...]]] = {
    "channel": tuple(Channel),
    "type": tuple(TxType),
}
# Fields the data set stores that the Transaction record cannot do without.
REQUIRED: Final = tuple(
    f.name
    for f in fields(Transaction)
    if f.name in TRANSACTION_COLUMNS and f.default is MISSING and f.default_factory is MISSING
)
# Each row's own: a constant would make every row the same transaction, amount or moment.
COLUMN_ONLY: Final = frozenset({"transaction_id", "amount", "timestamp"})
NUMBERS: Final = frozenset({"lat", "lon"})
_TABLES: Final = ("source", "columns", "constants", "derived", "translate", "amount", "timestamp",
                  "labels")  # fmt: skip


class ImportingError(ValueError):
    """An import that cannot start: the message says what to fix."""


class MappingError(ImportingError):
    """The mapping file cannot be used; the message names the key and why."""


@dataclass(frozen=True, slots=True)
class Column:
    """A field read from a source column; ``prefix``/``suffix`` make a derived value
    (``card_token`` from the account column when the bank has no token)."""

    name: str
    prefix: str = ""
    suffix: str = ""


@dataclass(frozen=True, slots=True)
class Constant:
    """The same value for every row, for a field the source lacks."""

    value: str | float


@dataclass(frozen=True, slots=True)
class TimeFormat:
    """``iso8601``, ``epoch_s``, ``epoch_ms`` or a strptime pattern; ``zone`` for local times."""

    pattern: str
    zone: ZoneInfo | None


@dataclass(frozen=True, slots=True)
class Labels:
    """The fraud column, its values, and when each verdict became known."""

    column: str
    fraud: frozenset[str]
    genuine: frozenset[str]
    time_column: str | None
    time: TimeFormat
    delay_days: float | None  # the explicit assumption when there is no label time column
    scenario_column: str | None


@dataclass(frozen=True, slots=True)
class Source:
    """How the file is read: CSV (delimiter, encoding) or Parquet."""

    format: str | None  # None: from the file's extension
    delimiter: str = ","
    encoding: str = "utf8"


@dataclass(frozen=True, slots=True)
class Mapping:
    """A checked mapping file."""

    fields: dict[str, Column | Constant]
    translate: dict[str, dict[str, str]]
    amount_format: str
    decimal_separator: str
    thousands_separator: str
    timestamp: TimeFormat
    labels: Labels | None
    source: Source
    document: dict[str, Any]  # the file as given, recorded in import.json

    def source_columns(self) -> tuple[str, ...]:
        """Every source column the mapping reads, each once, in mapping order."""
        names = [s.name for s in self.fields.values() if isinstance(s, Column)]
        if self.labels is not None:
            lab = self.labels
            names += [n for n in (lab.column, lab.time_column, lab.scenario_column) if n]
        return tuple(dict.fromkeys(names))


def load_mapping(path: Path) -> Mapping:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise MappingError(f"{path}: {exc}") from exc
    return parse_mapping(document)


def parse_mapping(document: dict[str, Any]) -> Mapping:
    _known(document, _TABLES, "the mapping")
    field_sources = _fields(document)
    translate = _translate(_table(document, "translate"), field_sources)
    amount = _table(document, "amount")
    _known(amount, ("format", "decimal_separator", "thousands_separator"), "[amount]")
    amount_format = _choice(amount.get("format", "decimal"), AMOUNT_FORMATS, "[amount] format")
    decimal = _text(amount.get("decimal_separator", "."), "[amount] decimal_separator")
    thousands = _text(amount.get("thousands_separator", ""), "[amount] thousands_separator")
    if decimal not in (".", ",") or thousands == decimal or len(thousands) > 1:
        raise MappingError(
            "[amount] decimal_separator must be '.' or ',' and thousands_separator one other "
            "character (or none)"
        )
    timestamp = _table(document, "timestamp")
    _known(timestamp, ("format", "timezone"), "[timestamp]")
    time_format = _time_format(timestamp.get("format"), timestamp.get("timezone"), "[timestamp]")
    return Mapping(
        field_sources,
        translate,
        amount_format,
        decimal,
        thousands,
        time_format,
        _labels(document.get("labels"), time_format),
        _source(_table(document, "source")),
        document,
    )


def _fields(document: dict[str, Any]) -> dict[str, Column | Constant]:
    sources: dict[str, Column | Constant] = {}
    for table, parse in (("columns", _column), ("constants", _constant), ("derived", _derived)):
        for name, spec in _table(document, table).items():
            where = f"[{table}] {name}"
            if name not in TRANSACTION_COLUMNS:
                raise MappingError(f"{where}: not a field of the data set; fields: "
                                   f"{', '.join(TRANSACTION_COLUMNS)}")  # fmt: skip
            if name in sources:
                raise MappingError(f"{where}: {name} is mapped twice")
            sources[name] = parse(name, spec, where)
    missing = [name for name in REQUIRED if name not in sources]
    if missing:
        raise MappingError(
            f"unmapped fields with no constant: {', '.join(missing)} (give each a source "
            "column in [columns], a value in [constants] or a rule in [derived])"
        )
    return sources


def _column(name: str, spec: Any, where: str) -> Column:
    return Column(_text(spec, where, empty=False))


def _derived(name: str, spec: Any, where: str) -> Column:
    if not isinstance(spec, dict):
        raise MappingError(f'{where}: expected {{ column = "...", prefix = "..." }}')
    _known(spec, ("column", "prefix", "suffix"), where)
    if name in COLUMN_ONLY | NUMBERS or name in ENUMS:
        raise MappingError(f"{where}: only text fields can be derived")
    column = _text(spec.get("column"), f"{where} column", empty=False)
    prefix = _text(spec.get("prefix", ""), f"{where} prefix")
    suffix = _text(spec.get("suffix", ""), f"{where} suffix")
    if not prefix + suffix:
        raise MappingError(f"{where}: give a prefix or a suffix (or map the column in [columns])")
    return Column(column, prefix, suffix)


def _constant(name: str, value: Any, where: str) -> Constant:
    if name in COLUMN_ONLY:
        raise MappingError(f"{where}: each row's own; map it to a column")
    if name in NUMBERS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MappingError(f"{where}: expected a number")
        return Constant(float(value))
    text = _text(value, where, empty=False)
    problem = {"currency": currency_problem, "country": country_problem}.get(name)
    if problem is not None and (found := problem(text)) is not None:
        raise MappingError(f"{where}: {found}")
    if name in ENUMS:
        _choice(text, ENUMS[name], where)
    return Constant(text)


def _translate(
    table: dict[str, Any], sources: dict[str, Column | Constant]
) -> dict[str, dict[str, str]]:
    """Source value -> contract value, for the enumerated fields read from a column."""
    out: dict[str, dict[str, str]] = {}
    for name, pairs in table.items():
        where = f"[translate.{name}]"
        if name not in ENUMS or not isinstance(sources.get(name), Column):
            raise MappingError(f"{where}: only channel and type read from a column translate")
        if not isinstance(pairs, dict):
            raise MappingError(f'{where}: expected "source value" = "contract value" pairs')
        out[name] = {
            key: _choice(value, ENUMS[name], f"{where} {key!r}") for key, value in pairs.items()
        }
    return out


def _time_format(pattern: Any, zone: Any, where: str) -> TimeFormat:
    pattern = _text(pattern if pattern is not None else "iso8601", f"{where} format", empty=False)
    if pattern not in NAMED_TIME_FORMATS and "%" not in pattern:
        raise MappingError(f"{where} format: one of {', '.join(NAMED_TIME_FORMATS)} or a "
                           "strptime pattern such as '%d.%m.%Y %H:%M'")  # fmt: skip
    if zone is None:
        if "%" in pattern and "%z" not in pattern:
            raise MappingError(f"{where}: a pattern without %z needs a timezone (e.g. 'UTC')")
        return TimeFormat(pattern, None)
    if pattern.startswith("epoch"):
        raise MappingError(f"{where}: epoch times are UTC; remove the timezone")
    try:
        return TimeFormat(pattern, ZoneInfo(_text(zone, f"{where} timezone", empty=False)))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise MappingError(f"{where} timezone: no such time zone {zone!r}") from exc


def _labels(table: Any, timestamp: TimeFormat) -> Labels | None:
    if table is None:
        return None
    if not isinstance(table, dict):
        raise MappingError("[labels]: expected a table")
    keys = ("column", "fraud", "genuine", "time_column", "time_format", "label_delay_days",
            "scenario_column")  # fmt: skip
    _known(table, keys, "[labels]")
    fraud, genuine = (_values(table.get(k), f"[labels] {k}") for k in ("fraud", "genuine"))
    if not fraud or fraud & genuine:
        raise MappingError("[labels]: fraud needs at least one value, none also in genuine")
    time_column, delay = table.get("time_column"), table.get("label_delay_days")
    if (time_column is None) == (delay is None):
        raise MappingError(
            "[labels]: give time_column (when each verdict became known) or, when the source "
            "has none, label_delay_days: the assumption written into the data set's metadata"
        )
    if delay is not None and (isinstance(delay, bool) or not isinstance(delay, int | float)
                              or delay < 0):  # fmt: skip
        raise MappingError("[labels] label_delay_days: expected a number of days >= 0")
    time = timestamp
    if "time_format" in table:
        time = _time_format(table["time_format"], None if timestamp.zone is None
                            else timestamp.zone.key, "[labels] time_format")  # fmt: skip
    return Labels(
        _text(table.get("column"), "[labels] column", empty=False),
        fraud,
        genuine,
        None if time_column is None else _text(time_column, "[labels] time_column", empty=False),
        time,
        None if delay is None else float(delay),
        _optional_text(table.get("scenario_column"), "[labels] scenario_column"),
    )


def _source(table: dict[str, Any]) -> Source:
    _known(table, ("format", "delimiter", "encoding"), "[source]")
    fmt = table.get("format")
    if fmt is not None:
        _choice(fmt, ("csv", "parquet"), "[source] format")
    delimiter = _text(table.get("delimiter", ","), "[source] delimiter")
    if len(delimiter) != 1:
        raise MappingError("[source] delimiter: one character")
    return Source(fmt, delimiter, _text(table.get("encoding", "utf8"), "[source] encoding"))


def _table(document: dict[str, Any], name: str) -> dict[str, Any]:
    table = document.get(name, {})
    if not isinstance(table, dict):
        raise MappingError(f"[{name}]: expected a table")
    return table


def _known(table: dict[str, Any], allowed: Iterable[str], where: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise MappingError(f"{where}: unknown keys {', '.join(unknown)} "
                           f"(known: {', '.join(allowed)})")  # fmt: skip


def _text(value: Any, where: str, *, empty: bool = True) -> str:
    if not isinstance(value, str) or (not empty and not value):
        raise MappingError(f"{where}: expected {'a' if empty else 'a non-empty'} string")
    return value


def _optional_text(value: Any, where: str) -> str | None:
    return None if value is None else _text(value, where, empty=False)


def _values(value: Any, where: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MappingError(f'{where}: expected a list of strings, e.g. ["Y"]')
    return frozenset(value)


def _choice(value: Any, choices: Iterable[str], where: str) -> str:
    options = tuple(choices)
    if value not in options:
        raise MappingError(f"{where}: {value!r} is not one of {', '.join(options)}")
    return str(value)
