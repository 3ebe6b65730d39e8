"""docs/schema-contract.md against the code: its schema-id and topic tables are rendered here
from ``schemas.registry`` and ``schemas.topics`` and must appear in the page verbatim, so the
contract a gateway in another language follows cannot drift from what the services speak."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from schemas.registry import default_registry
from schemas.topics import DEAD_LETTER, DECISIONS, TRANSACTIONS, TopicSpec

DOC = Path(__file__).resolve().parents[3] / "docs" / "schema-contract.md"
# The topics a gateway produces to or reads, with the record each carries.
GATEWAY_TOPICS: tuple[tuple[TopicSpec, str, str], ...] = (
    (TRANSACTIONS, "transaction", "produce"),
    (DECISIONS, "decision", "read"),
    (DEAD_LETTER, "dead_letter", "read"),
)


def schema_id_table() -> str:
    rows = ["| record | version | schema id | first 5 bytes | schema |", "|---|---|---|---|---|"]
    for info in default_registry():
        header = " ".join(f"{byte:02x}" for byte in info.header)
        link = f"[{info.path.name}](../schemas/avro/{info.path.name})"
        rows.append(f"| {info.record} | {info.version} | {info.schema_id} | `{header}` | {link} |")
    return "\n".join(rows)


def topic_table() -> str:
    rows = ["| topic | partitions | a gateway | record | what it holds |", "|---|---|---|---|---|"]
    for spec, record, role in GATEWAY_TOPICS:
        rows.append(
            f"| `{spec.name}` | {spec.partitions} | {role}s | {record} | {spec.description} |"
        )
    return "\n".join(rows)


def generated(name: str) -> str:
    """The text between ``<!-- name:start -->`` and ``<!-- name:end -->`` in the page."""
    found = re.search(rf"<!-- {name}:start -->\n(.*?)\n<!-- {name}:end -->", DOC.read_text(), re.S)
    assert found is not None, f"{DOC.name} has no {name} block"
    return found.group(1)


@pytest.mark.parametrize(
    ("name", "render"), [("schema-ids", schema_id_table), ("topics", topic_table)]
)
def test_the_contract_page_shows_what_the_code_says(name: str, render: Callable[[], str]) -> None:
    expected = render()
    assert generated(name) == expected, f"replace the {name} block with:\n{expected}"


def test_every_schema_file_the_page_links_exists() -> None:
    for target in re.findall(r"\]\(\.\./schemas/avro/([^)]+)\)", DOC.read_text()):
        assert (DOC.parent.parent / "schemas" / "avro" / target).is_file(), target
