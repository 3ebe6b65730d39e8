"""Source rows -> accepted rows and rejections, by the live path's definition of a valid one.

Every row becomes a ``schemas.records.Transaction`` and goes through
``schemas.validation.transaction_problem(tx, None)``, the check the API and the agent apply
(the event-time window is left out, as in training: it is measured against the time a record
reaches the API or Kafka, which a history has not). A value that cannot be parsed, a problem
the check finds, a label that cannot be read and a repeated transaction id all reject the
row with a reason; a rejected row is never written. Duplicates: the first accepted row with
an id keeps it, every later one is rejected naming that row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any, Final

from fraudsim.importing import values
from fraudsim.importing.mapping import ENUMS, NUMBERS, REQUIRED, Column, Constant, Mapping
from fraudsim.simulate.config import DAY_MS
from fraudsim.tables import EPOCH, LABEL_COLUMNS, TRANSACTION_COLUMNS, TransactionColumns
from schemas.enums import Channel, TxType
from schemas.pan import mask_pans
from schemas.records import Transaction
from schemas.validation import CURRENCY_EXPONENT, transaction_problem

Parser = Callable[[Any], Any]
# The data set stores amounts as decimal(18, 2).
MAX_DECIMALS: Final = 2
MAX_AMOUNT: Final = Decimal(10) ** 16
_TEXT: Final = tuple(
    n for n in TRANSACTION_COLUMNS if n not in {"amount", "timestamp", *NUMBERS, *ENUMS}
)
_KEPT: Final = (*_TEXT, *NUMBERS, *ENUMS)  # the fields kept per row, beside time and amount


@dataclass(frozen=True, slots=True)
class Rejection:
    """A row not written: its source row number (1 = the first row after a CSV header), its
    transaction id when it has one, the field (or ``duplicate``) and why."""

    row: int
    transaction_id: str | None
    kind: str
    reason: str


@dataclass(slots=True)
class Accepted:
    """Accepted rows of a batch, as plain columns and their label columns."""

    values: dict[str, list[Any]] = field(default_factory=lambda: {n: [] for n in _KEPT})
    ts_ms: list[int] = field(default_factory=list)
    cents: list[int] = field(default_factory=list)
    labels: dict[str, list[Any]] = field(default_factory=lambda: {n: [] for n in LABEL_COLUMNS})

    def columns(self) -> TransactionColumns:
        return TransactionColumns(self.values, self.ts_ms, self.cents)

    def __len__(self) -> int:
        return len(self.ts_ms)


@dataclass(frozen=True, slots=True)
class _Parsed:
    """One field over a batch: a value per row, and the rows whose value could not be read."""

    values: list[Any]
    errors: dict[int, str]


class RowReader:
    """Turns batches of source columns into accepted rows and rejections, remembering the
    transaction ids accepted so far (duplicates are rejected across batches)."""

    def __init__(self, mapping: Mapping) -> None:
        self.mapping = mapping
        self.first_row_of: dict[str, int] = {}
        columns = (n for n, source in mapping.fields.items() if isinstance(source, Column))
        self._parsers = {name: self._parser(name) for name in columns}
        self._exponent = CURRENCY_EXPONENT.get

    def read(self, raw: dict[str, list[Any]], rows: list[int]) -> tuple[Accepted, list[Rejection]]:
        """``raw``: source column -> its values in this batch; ``rows``: their row numbers."""
        parsed = {name: self._column(name, raw, len(rows)) for name in TRANSACTION_COLUMNS}
        labels = self._labels(raw, len(rows))
        errors: dict[int, str] = {}
        for column in (*parsed.values(), *labels.values()):  # field order: a row's first error
            for i, error in column.errors.items():
                errors.setdefault(i, error)
        accepted, rejected, keep = Accepted(), [], []
        row_values = zip(*(column.values for column in parsed.values()), strict=True)
        for i, row in enumerate(row_values):
            reason = errors.get(i) or self._accept(i, rows[i], row, labels, accepted)
            if reason is None:
                keep.append(i)
                continue
            tid = parsed["transaction_id"].values[i]
            kind = "duplicate" if reason.startswith("duplicate") else reason.split(" ", 1)[0]
            rejected.append(Rejection(rows[i], mask_pans(tid) if tid else None, kind, reason))
        for name in _KEPT:  # as parsed: the record holds these values unchanged
            accepted.values[name] = [parsed[name].values[i] for i in keep]
        return accepted, rejected

    def _accept(
        self, i: int, row: int, values: tuple[Any, ...], labels: dict[str, _Parsed], out: Accepted
    ) -> str | None:
        """Append row ``i``'s time, amount and label to ``out``, or say why it is rejected."""
        v = dict(zip(TRANSACTION_COLUMNS, values, strict=True))
        try:
            v["timestamp"] = EPOCH + timedelta(milliseconds=v["timestamp"])
        except OverflowError:
            return "timestamp is out of range"
        if self.mapping.amount_format == "minor_units":
            v["amount"] = v["amount"].scaleb(-self._exponent(v["currency"], MAX_DECIMALS))
        tx = Transaction(**v)
        problem = transaction_problem(tx, None) or _storable(tx.amount)
        if problem is not None:
            return mask_pans(problem)
        ts_ms = (tx.timestamp - EPOCH) // timedelta(milliseconds=1)
        fraud, labelled_at = self._label(i, ts_ms, labels)
        if labelled_at is not None and labelled_at < ts_ms:
            return "labelled_at is before the transaction's time"
        first = self.first_row_of.setdefault(tx.transaction_id, row)
        if first != row:
            return f"duplicate transaction_id: row {first} has it (the first is kept)"
        out.ts_ms.append(ts_ms)
        out.cents.append(int(tx.amount.scaleb(MAX_DECIMALS)))
        out.labels["is_fraud"].append(fraud)
        out.labels["scenario"].append(labels["scenario"].values[i] if fraud else None)
        out.labels["labelled_at"].append(ts_ms if labelled_at is None else labelled_at)
        return None

    def _label(self, i: int, ts_ms: int, labels: dict[str, _Parsed]) -> tuple[bool, int | None]:
        """(is fraud, when it became known) of row ``i``: None for a genuine row."""
        lab = self.mapping.labels
        if lab is None or not labels["is_fraud"].values[i]:
            return False, None
        if lab.delay_days is not None:
            return True, ts_ms + round(lab.delay_days * DAY_MS)
        return True, labels["labelled_at"].values[i]

    def _column(self, name: str, raw: dict[str, list[Any]], n: int) -> _Parsed:
        source = self.mapping.fields.get(name)
        if source is None:
            return _Parsed([None] * n, {})
        if isinstance(source, Constant):
            value = _enum(name, str(source.value)) if name in ENUMS else source.value
            return _Parsed([value] * n, {})
        return _parse(raw[source.name], self._parsers[name], name)

    def _labels(self, raw: dict[str, list[Any]], n: int) -> dict[str, _Parsed]:
        lab = self.mapping.labels
        if lab is None:
            return {name: _Parsed([None] * n, {}) for name in ("is_fraud", "scenario")}
        out = {"is_fraud": _parse(raw[lab.column], self._verdict, "is_fraud")}
        scenario = raw[lab.scenario_column] if lab.scenario_column else [None] * n
        out["scenario"] = _parse(scenario, values.text, "scenario")
        if lab.time_column is not None:
            times = raw[lab.time_column]
            fraud = out["is_fraud"].values
            # Only a fraud row needs its label time; a genuine row's may well be empty.
            wanted = [t if f else EPOCH for t, f in zip(times, fraud, strict=True)]
            out["labelled_at"] = _parse(wanted, values.time_parser(lab.time), "labelled_at")
        return out

    def _verdict(self, value: Any) -> bool | None:
        lab = self.mapping.labels
        assert lab is not None  # noqa: S101 - only called when the mapping has labels
        raw = (values.text(value) or "").strip()
        if raw in lab.fraud:
            return True
        if raw in lab.genuine:
            return False
        raise ValueError(
            f"{values.shown(raw)} is neither a fraud value ({', '.join(sorted(lab.fraud))}) "
            f"nor a genuine one ({', '.join(sorted(lab.genuine)) or 'none given'})"
        )

    def _parser(self, name: str) -> Parser:
        m = self.mapping
        if name == "amount":
            if m.amount_format == "minor_units":
                return values.minor_units
            return values.decimal_parser(m.decimal_separator, m.thousands_separator)
        if name == "timestamp":
            return values.time_parser(m.timestamp)
        if name in NUMBERS:
            return values.number_parser(m.decimal_separator)
        source = m.fields[name]
        assert isinstance(source, Column)  # noqa: S101 - constants are not parsed
        if name in ENUMS:
            return _enum_parser(name, m.translate.get(name, {}))
        return _text_parser(name, source.prefix, source.suffix)


def _parse(raw: list[Any], parse: Parser, name: str) -> _Parsed:
    parsed: list[Any] = []
    errors: dict[int, str] = {}
    for i, value in enumerate(raw):
        try:
            parsed.append(parse(value))
        except ValueError as exc:
            parsed.append(None)
            errors[i] = f"{name} {exc}"
    return _Parsed(parsed, errors)


def _text_parser(name: str, prefix: str, suffix: str) -> Parser:
    required = name in REQUIRED

    def parse(value: Any) -> str | None:
        raw = values.text(value)
        if raw is None:
            if required:
                raise ValueError("is empty")
            return None
        return f"{prefix}{raw}{suffix}"

    return parse


def _enum_parser(name: str, translate: dict[str, str]) -> Parser:
    def parse(value: Any) -> Channel | TxType:
        raw = (values.text(value) or "").strip()
        return _enum(name, translate.get(raw, raw))

    return parse


def _enum(name: str, value: str) -> Channel | TxType:
    try:
        return Channel(value) if name == "channel" else TxType(value)
    except ValueError:
        choices = ", ".join(ENUMS[name])
        raise ValueError(f"{values.shown(value)} is not one of {choices} "
                         f"(see [translate.{name}])") from None  # fmt: skip


def _storable(amount: Decimal) -> str | None:
    """What the data set's decimal(18, 2) amount column cannot hold."""
    if -int(amount.normalize().as_tuple().exponent) > MAX_DECIMALS:
        return f"amount has more than {MAX_DECIMALS} decimals; the data set stores {MAX_DECIMALS}"
    if amount >= MAX_AMOUNT:
        return "amount is too large for the data set (decimal(18, 2))"
    return None
