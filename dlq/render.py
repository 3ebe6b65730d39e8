"""How letters are shown: table rows, JSON, and one letter in full. Pure, and PAN-safe.

Everything a person sees passes through ``mask_pans`` last: a dead letter keeps its
original bytes, and those may hold a card number that the validation refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import orjson
from rich.table import Table

from dlq.letters import Letter, Unreadable
from schemas.codec import decode
from schemas.errors import SchemaError
from schemas.pan import mask_pans

_MESSAGE_WIDTH = 80


def masked_bytes(data: bytes) -> bytes:
    """``data`` with PAN-like digit runs masked; Latin-1 maps each byte to one character."""
    return mask_pans(data.decode("latin-1")).encode("latin-1")


def escaped(data: bytes) -> str:
    """Printable ASCII as is, every other byte as ``\\xNN`` (masked first)."""
    return repr(masked_bytes(data))[2:-1]


def key_text(key: bytes | None) -> str | None:
    if key is None:
        return None
    try:
        text = key.decode("utf-8")
    except UnicodeDecodeError:
        return escaped(key)
    return mask_pans(text) if text.isprintable() else escaped(key)


def summary(letter: Letter) -> dict[str, Any]:
    """The fields ``dlq list`` shows, as JSON-ready values."""
    dead = letter.letter
    return {
        "id": str(letter.id),
        "failed_at": dead.failed_at.isoformat(),
        "source_topic": dead.source_topic,
        "source_partition": dead.partition,
        "source_offset": dead.offset,
        "error_code": dead.error_code,
        "error_message": mask_pans(dead.error_message),
        "redriven": letter.redriven,
    }


def original(value: bytes) -> dict[str, Any]:
    """The original record decoded with the schemas codec, else its bytes shown safely."""
    try:
        decoded = decode(value)
    except SchemaError as exc:
        return {
            "decoded": False,
            "reason": f"{exc.code}: {exc}",
            "escaped": escaped(value),
            "hex": masked_bytes(value).hex(),
        }
    return {
        "decoded": True,
        "record": decoded.record,
        "schema_version": decoded.writer.version,
        "value": decoded.value,
    }


def detail(letter: Letter) -> dict[str, Any]:
    """One letter in full: its metadata, the original key, headers and record."""
    dead = letter.letter
    return {
        **summary(letter),
        "key": key_text(dead.key),
        "headers": dict(dead.headers),
        "original": original(dead.value),
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return escaped(bytes(value))
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(value: Any) -> str:
    """Indented JSON with PANs masked (after serialising: nothing escapes the mask)."""
    text = orjson.dumps(value, default=_json_default, option=orjson.OPT_INDENT_2).decode()
    return mask_pans(text)


def _clip(text: str, width: int = _MESSAGE_WIDTH) -> str:
    return text if len(text) <= width else f"{text[: width - 1]}…"


def letters_table(
    topic: str, letters: Sequence[Letter], unreadable: Iterable[Unreadable] = ()
) -> Table:
    """The ``dlq list`` table: one row per letter, oldest first."""
    table = Table(title=f"dead letters on {topic}: {len(letters)}")
    for column in ("id", "failed at", "source", "error", "message", "re-driven"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        row = summary(letter)
        table.add_row(
            row["id"],
            letter.letter.failed_at.strftime("%Y-%m-%d %H:%M:%S"),
            f"{row['source_topic']} {row['source_partition']}:{row['source_offset']}",
            row["error_code"],
            _clip(row["error_message"]),
            "yes" if letter.redriven else "",
        )
    for bad in unreadable:
        table.add_row(str(bad.id), "", "", "not a dead letter", _clip(mask_pans(bad.error)), "")
    return table


def detail_table(detail_value: Mapping[str, Any]) -> Table:
    """``dlq show``: the letter's metadata as a two-column table (the record follows as JSON)."""
    table = Table(show_header=False, title=f"dead letter {detail_value['id']}")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name in ("failed_at", "source_topic", "source_partition", "source_offset"):
        table.add_row(name, str(detail_value[name]))
    table.add_row("error_code", detail_value["error_code"])
    table.add_row("error_message", detail_value["error_message"])
    table.add_row("re-driven", "yes" if detail_value["redriven"] else "no")
    table.add_row("key", str(detail_value["key"]))
    for name, value in detail_value["headers"].items():
        table.add_row(f"header {name}", mask_pans(value))
    return table
