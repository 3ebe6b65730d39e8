"""The Java example gateway's copy of the contract (examples/java-gateway's Contract.java)
against the Python one: record codes, topic names and the decision header. A gateway in
another language must hold these constants somewhere; this keeps the example's honest."""

from __future__ import annotations

import re
from pathlib import Path

from schemas.registry import RECORD_CODES, default_registry
from schemas.topics import DEAD_LETTER, DECISIONS, HEADER_TRANSACTION_ID, TRANSACTIONS

CONTRACT = (
    Path(__file__).resolve().parents[3]
    / "examples/java-gateway/src/main/java/io/sentinelstream/gateway/Contract.java"
)


def java_source() -> str:
    return CONTRACT.read_text(encoding="utf-8")


def string_constant(name: str) -> str:
    found = re.search(rf'static final String {name} = "([^"]*)";', java_source())
    assert found is not None, f"no String {name} in {CONTRACT.name}"
    return found.group(1)


def test_the_java_record_codes_are_the_registrys() -> None:
    codes = {
        name: int(code) for name, code in re.findall(r'Map\.entry\("(\w+)", (\d+)\)', java_source())
    }
    assert codes, f"no record codes found in {CONTRACT.name}"
    assert codes == {name: RECORD_CODES[name] for name in codes}


def test_the_java_writes_a_published_transaction_version() -> None:
    found = re.search(r"static final int TRANSACTION_VERSION = (\d+);", java_source())
    assert found is not None
    default_registry().get("transaction", int(found.group(1)))  # UnknownSchema if not


def test_the_java_topics_and_header_are_the_pipelines() -> None:
    assert string_constant("TRANSACTIONS") == TRANSACTIONS.name
    assert string_constant("DECISIONS") == DECISIONS.name
    assert string_constant("DEAD_LETTER") == DEAD_LETTER.name
    assert string_constant("HEADER_TRANSACTION_ID") == HEADER_TRANSACTION_ID
