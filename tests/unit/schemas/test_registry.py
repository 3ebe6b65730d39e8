"""Tests for schemas.registry and the .avsc files: parsing, ids, and BACKWARD evolution."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import combinations
from pathlib import Path
from typing import Any

import fastavro
import pytest
from fastavro.schema import load_schema
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codec import decode, encode
from schemas.errors import SchemaLoadError, UnknownSchema, UnknownSchemaId
from schemas.registry import (
    AVRO_DIR,
    NAMESPACE,
    RECORD_CODES,
    Registry,
    SchemaInfo,
    default_registry,
    schema_id,
)

REGISTRY = default_registry()
# Every (older, newer) pair, not only neighbours: consumers decode ANY version into the latest.
EVOLUTIONS = [
    pytest.param(old, new, id=f"{new.record}-v{old.version}-to-v{new.version}")
    for record in REGISTRY.records
    for old, new in combinations(REGISTRY.versions(record), 2)
]


@pytest.mark.parametrize("path", sorted(AVRO_DIR.glob("*.avsc")), ids=lambda p: p.name)
def test_fastavro_parses_every_file(path: Path) -> None:
    fastavro.parse_schema(json.loads(path.read_text(encoding="utf-8")), {})
    load_schema(str(path))


def test_every_file_is_registered_once() -> None:
    files = {p.name for p in AVRO_DIR.glob("*.avsc")}
    assert {info.path.name for info in REGISTRY} == files
    assert len({info.schema_id for info in REGISTRY}) == len(files)


def test_wire_ids_are_pinned() -> None:
    # Changing any of these breaks every message already on a topic.
    assert dict(RECORD_CODES) == {
        "transaction": 1,
        "decision": 2,
        "webhook_event": 3,
        "rule": 4,
        "label": 5,
        "dead_letter": 6,
        "account_profile": 7,
        "named_list": 8,
        "merchant_risk": 9,
        "model_announcement": 10,
        "review_resolution": 11,
    }
    assert REGISTRY.get("transaction", 1).header == b"\x00\x00\x00\x03\xe9"  # id 1001
    assert schema_id("transaction", 2) == 1002
    assert schema_id("account_profile", 1) == 7001
    assert schema_id("model_announcement", 1) == 10001
    assert schema_id("merchant_risk", 1) == 9001


def test_ids_do_not_depend_on_load_order() -> None:
    infos = list(REGISTRY)
    shuffled = Registry(reversed(infos))
    assert [(i.record, i.version, i.schema_id) for i in shuffled] == [
        (i.record, i.version, i.schema_id) for i in REGISTRY
    ]


def test_lookups() -> None:
    assert REGISTRY.latest("transaction").version == max(
        info.version for info in REGISTRY.versions("transaction")
    )
    assert REGISTRY.get("transaction") is REGISTRY.latest("transaction")
    assert REGISTRY.by_id(2001) is REGISTRY.get("decision", 1)
    with pytest.raises(UnknownSchemaId):
        REGISTRY.by_id(1999)
    with pytest.raises(UnknownSchema):
        REGISTRY.get("transaction", 999)
    with pytest.raises(UnknownSchema):
        REGISTRY.get("nope")
    with pytest.raises(UnknownSchema):
        REGISTRY.versions("nope")
    with pytest.raises(UnknownSchema):
        schema_id("transaction", 1000)


@pytest.mark.parametrize("info", list(REGISTRY), ids=lambda i: i.path.name)
def test_files_declare_their_record(info: SchemaInfo) -> None:
    assert info.raw["namespace"] == NAMESPACE
    assert info.record in RECORD_CODES


@pytest.mark.parametrize("decision", REGISTRY.versions("decision"), ids=lambda i: i.path.name)
def test_decisions_embed_a_published_transaction_verbatim(decision: SchemaInfo) -> None:
    embedded = next(f["type"] for f in decision.raw["fields"] if f["name"] == "transaction")
    assert embedded in [info.raw for info in REGISTRY.versions("transaction")]


def test_latest_decision_embeds_latest_transaction() -> None:
    # Otherwise fields added to Transaction would be silently dropped on the decision path.
    latest = REGISTRY.latest("decision").raw["fields"]
    embedded = next(f["type"] for f in latest if f["name"] == "transaction")
    assert embedded == REGISTRY.latest("transaction").raw


@pytest.mark.parametrize(("old", "new"), EVOLUTIONS)
def test_fields_added_later_have_defaults(old: SchemaInfo, new: SchemaInfo) -> None:
    before = {f["name"] for f in old.raw["fields"]}
    added = [f for f in new.raw["fields"] if f["name"] not in before]
    assert all("default" in f for f in added), f"{new.path.name}: new fields need a default"


@pytest.mark.parametrize(("old", "new"), EVOLUTIONS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_older_data_reads_with_newer_schema(
    old: SchemaInfo, new: SchemaInfo, data: st.DataObject
) -> None:
    written = data.draw(avro_values(old.raw, {}))
    read = decode(encode(old.record, written, old.version), reader_version=new.version).value
    assert_kept(written, read)
    before = {f["name"] for f in old.raw["fields"]}
    for f in new.raw["fields"]:
        if f["name"] not in before:
            assert read[f["name"]] == f["default"]


def assert_kept(written: Any, read: Any) -> None:
    """Everything the writer wrote that the reader still has came through unchanged."""
    if isinstance(written, dict):
        assert isinstance(read, dict)
        for key in written.keys() & read.keys():
            assert_kept(written[key], read[key])
    elif isinstance(written, list):
        assert isinstance(read, list)
        assert len(read) == len(written)
        for w, r in zip(written, read, strict=True):
            assert_kept(w, r)
    else:
        assert read == written


PRIMITIVES: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": st.integers(min_value=-(2**31), max_value=2**31 - 1),
    "long": st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "float": st.floats(width=32, allow_nan=False),
    "double": st.floats(allow_nan=False),
    "bytes": st.binary(max_size=16),
    "string": st.text(max_size=12),
}


def avro_values(schema: Any, named: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Values valid for a JSON Avro schema; raises on a type it does not know yet."""
    if isinstance(schema, list):
        return st.one_of([avro_values(branch, named) for branch in schema])
    if isinstance(schema, str):
        return PRIMITIVES[schema] if schema in PRIMITIVES else named[schema.rsplit(".", 1)[-1]]
    if "logicalType" in schema:
        return logical_values(schema)
    kind = schema["type"]
    if kind == "record":
        fields = {f["name"]: avro_values(f["type"], named) for f in schema["fields"]}
        named[schema["name"]] = st.fixed_dictionaries(fields)
    elif kind == "enum":
        named[schema["name"]] = st.sampled_from(schema["symbols"])
    elif kind == "fixed":
        named[schema["name"]] = st.binary(min_size=schema["size"], max_size=schema["size"])
    elif kind == "array":
        return st.lists(avro_values(schema["items"], named), max_size=3)
    elif kind == "map":
        return st.dictionaries(
            st.text(max_size=8), avro_values(schema["values"], named), max_size=3
        )
    else:
        return avro_values(kind, named)
    return named[schema["name"]]


def logical_values(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if schema["logicalType"] == "decimal":
        limit = Decimal(10) ** (schema["precision"] - schema["scale"]) - Decimal(1).scaleb(
            -schema["scale"]
        )
        return st.decimals(min_value=-limit, max_value=limit, places=schema["scale"])
    if schema["logicalType"] == "timestamp-millis":
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        millis = st.integers(min_value=-(10**12), max_value=10**13)
        return millis.map(lambda ms: epoch + timedelta(milliseconds=ms))
    raise NotImplementedError(f"add a strategy for logicalType {schema['logicalType']}")


def test_load_refuses_a_badly_named_file(tmp_path: Path) -> None:
    shutil.copy(AVRO_DIR / "label.v1.avsc", tmp_path / "label.avsc")
    with pytest.raises(SchemaLoadError, match="expected <record>"):
        Registry.load(tmp_path)


def test_load_refuses_an_unknown_record(tmp_path: Path) -> None:
    shutil.copy(AVRO_DIR / "label.v1.avsc", tmp_path / "verdict.v1.avsc")
    with pytest.raises(SchemaLoadError, match="RECORD_CODES"):
        Registry.load(tmp_path)


def test_load_refuses_a_record_name_that_does_not_match_the_file(tmp_path: Path) -> None:
    shutil.copy(AVRO_DIR / "label.v1.avsc", tmp_path / "rule.v1.avsc")
    with pytest.raises(SchemaLoadError, match=r"io\.sentinelstream\.Rule"):
        Registry.load(tmp_path)


def test_load_refuses_a_gap_in_versions(tmp_path: Path) -> None:
    shutil.copy(AVRO_DIR / "label.v1.avsc", tmp_path / "label.v2.avsc")
    with pytest.raises(SchemaLoadError, match="expected 1..1"):
        Registry.load(tmp_path)


def test_load_refuses_a_missing_record(tmp_path: Path) -> None:
    shutil.copy(AVRO_DIR / "label.v1.avsc", tmp_path / "label.v1.avsc")
    assert Registry.load(tmp_path).records == ("label",)
    with pytest.raises(SchemaLoadError, match="no schema file for rule"):
        Registry.load(tmp_path, required=["label", "rule"])


def test_load_refuses_invalid_avro(tmp_path: Path) -> None:
    raw = json.loads((AVRO_DIR / "label.v1.avsc").read_text(encoding="utf-8"))
    raw["fields"][0]["type"] = "no_such_type"
    (tmp_path / "label.v1.avsc").write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(SchemaLoadError, match="label.v1.avsc"):
        Registry.load(tmp_path)
