"""Reading the source file in batches: CSV (pyarrow.csv.open_csv) or Parquet (iter_batches).

Only the columns the mapping names are read, and the file's columns are checked against it
before any row is. CSV cells are read as bytes and decoded per value, so a cell that is not
text in the declared encoding rejects its row rather than stopping the import; a CSV line
with the wrong number of fields is skipped by the parser and reported as a rejection too.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from fraudsim.importing.mapping import ImportingError, Mapping
from fraudsim.importing.rows import Rejection

BLOCK_BYTES: Final = 1 << 20  # about 10,000 rows of a typical CSV per batch
PARQUET_BATCH_ROWS: Final = 16_384


class SourceError(ImportingError):
    """The source file cannot be read as the mapping says (no such column, not Parquet)."""


@dataclass(frozen=True, slots=True)
class Batch:
    """Source column -> values, and each value's source row number."""

    columns: dict[str, list[Any]]
    rows: list[int]


@dataclass(slots=True)
class Source:
    """An open source file: its batches, how far through it they are, and the lines the
    CSV parser could not split into the header's fields."""

    path: Path
    total: int  # rows (Parquet) or bytes (CSV): the unit of ``done``
    _batches: Iterator[Any]
    _position: Any  # () -> how much of ``total`` has been read
    malformed: list[Rejection] = field(default_factory=list)
    close: Callable[[], None] = lambda: None
    _next_row: int = 1

    def __iter__(self) -> Iterator[Batch]:
        for batch in self._batches:
            yield Batch({n: batch.column(n).to_pylist() for n in batch.schema.names},
                        self._numbers(batch.num_rows))  # fmt: skip

    def done(self) -> int:
        return int(self._position())

    def _numbers(self, n: int) -> list[int]:
        # A skipped line still has its number: the rows after it keep theirs.
        skipped = {r.row for r in self.malformed}
        numbers: list[int] = []
        while len(numbers) < n:
            if self._next_row not in skipped:
                numbers.append(self._next_row)
            self._next_row += 1
        return numbers


def open_source(path: Path, mapping: Mapping) -> Source:
    fmt = mapping.source.format or ("parquet" if path.suffix.lower() == ".parquet" else "csv")
    return _parquet(path, mapping) if fmt == "parquet" else _csv(path, mapping)


def _check_columns(path: Path, present: list[str], wanted: tuple[str, ...]) -> None:
    missing = [name for name in wanted if name not in present]
    if missing:
        raise SourceError(f"{path} has no column {', '.join(map(repr, missing))}; its columns: "
                           f"{', '.join(map(repr, present))}")  # fmt: skip


def _parquet(path: Path, mapping: Mapping) -> Source:
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise SourceError(f"{path}: not a readable Parquet file ({exc})") from exc
    wanted = mapping.source_columns()
    _check_columns(path, parquet.schema_arrow.names, wanted)
    batches = parquet.iter_batches(PARQUET_BATCH_ROWS, columns=list(wanted))
    source = Source(path, parquet.metadata.num_rows, batches, lambda: 0, close=parquet.close)
    source._position = lambda: source._next_row - 1
    return source


def _csv(path: Path, mapping: Mapping) -> Source:
    options = mapping.source
    header = _header(path, options.delimiter, options.encoding)
    wanted = mapping.source_columns()
    _check_columns(path, header, wanted)
    handle: IO[bytes] = path.open("rb")
    try:
        return _csv_reader(path, handle, wanted, options)
    except BaseException:
        handle.close()
        raise


def _csv_reader(path: Path, handle: IO[bytes], wanted: tuple[str, ...], options: Any) -> Source:
    malformed: list[Rejection] = []

    def skip(row: Any) -> str:
        # The parser's number counts the header line; ours starts at the first data row.
        number = -1 if row.number is None else row.number - 1
        reason = f"row has {row.actual_columns} fields; the header has {row.expected_columns}"
        malformed.append(Rejection(number, None, "malformed", reason))
        return "skip"

    reader = pacsv.open_csv(
        handle,
        read_options=pacsv.ReadOptions(
            use_threads=False, block_size=BLOCK_BYTES, encoding=options.encoding
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=options.delimiter, newlines_in_values=True, invalid_row_handler=skip
        ),
        convert_options=pacsv.ConvertOptions(
            include_columns=list(wanted),
            column_types={name: pa.binary() for name in wanted},
            strings_can_be_null=False,
        ),
    )
    return Source(path, path.stat().st_size, iter(reader), handle.tell, malformed, handle.close)


def _header(path: Path, delimiter: str, encoding: str) -> list[str]:
    try:
        with path.open(newline="", encoding=encoding.replace("utf8", "utf-8-sig")) as handle:
            return next(csv.reader(handle, delimiter=delimiter), [])
    except (OSError, UnicodeDecodeError, LookupError, csv.Error) as exc:
        raise SourceError(f"{path}: cannot read its header line ({exc})") from exc
