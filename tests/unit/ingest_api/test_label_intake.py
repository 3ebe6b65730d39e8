"""The one check of a label from the bank's systems (ingest_api.label_intake), and the rows of
a chargeback file as `sentinel labels import` reads them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from ingest_api.errors import InvalidRequest, TransactionNotFound
from ingest_api.label_intake import LabelIn, build_label, outgoing, parse_label
from ingest_api.labels_cli import BadFile, Rejected, Row, check_header, parse_row, read_rows
from ingest_api.readside import LabelledTransaction
from schemas.codec import decode_label
from schemas.connections import KafkaConnection
from schemas.enums import LabelKind

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
TX = LabelledTransaction("acct-1", "m-1", NOW - timedelta(days=40))
PAN = "4111 1111 1111 1111"


def item(**fields: object) -> LabelIn:
    return parse_label({"transaction_id": "tx-1", "kind": "chargeback", **fields})


@pytest.mark.parametrize(
    ("kind", "fraud"),
    [("chargeback", True), ("confirmed_fraud", True), ("confirmed_genuine", False)],
)
def test_the_kind_says_fraud_or_not_and_travels_as_the_scenario(kind: str, fraud: bool) -> None:
    label = build_label(item(kind=kind), TX, NOW, 300)
    assert (label.is_fraud, label.scenario) == (fraud, kind)
    assert LabelKind(kind).is_fraud is fraud


def test_a_label_takes_account_merchant_and_time_from_the_ledger() -> None:
    label = build_label(item(reason="10.4"), TX, NOW, 300)
    assert (label.account_id, label.merchant_id, label.transaction_timestamp) == TX
    assert (label.labelled_at, label.reason) == (NOW, "10.4")  # default: when received


def test_a_chargeback_forty_days_late_is_accepted_with_its_own_time() -> None:
    arrived = NOW - timedelta(hours=3)
    label = build_label(item(labelled_at=arrived.isoformat()), TX, NOW, 300)
    assert label.labelled_at == arrived
    assert label.labelled_at - label.transaction_timestamp > timedelta(days=39)


def test_an_unknown_transaction_is_not_found_with_a_stable_code() -> None:
    with pytest.raises(TransactionNotFound) as caught:
        build_label(item(), None, NOW, 300)
    assert (caught.value.status, caught.value.code) == (404, "transaction_not_found")
    assert caught.value.details == {"transaction_id": "tx-1"}


@pytest.mark.parametrize(
    ("labelled_at", "kind"),
    [
        (NOW + timedelta(minutes=6), "labelled_at_in_future"),
        (TX.timestamp - timedelta(seconds=1), "labelled_at_before_transaction"),
    ],
)
def test_a_labelled_at_in_the_future_or_before_the_transaction_is_refused(
    labelled_at: datetime, kind: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        build_label(item(labelled_at=labelled_at.isoformat()), TX, NOW, 300)
    assert caught.value.details == [
        {"path": "labelled_at", "message": caught.value.message, "type": kind}
    ]


def test_the_clock_skew_allowed_for_transactions_is_allowed_for_labels() -> None:
    label = build_label(item(labelled_at=(NOW + timedelta(minutes=4)).isoformat()), TX, NOW, 300)
    assert label.labelled_at == NOW + timedelta(minutes=4)


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "dispute"},
        {"reason": f"card {PAN} charged back"},
        {"transaction_id": "4111111111111111"},
        {"transaction_id": ""},
        {"reason": "bell\x07"},
        {"reason": "x" * 201},
        {"labelled_at": "2026-12-01T10:00:00"},  # no offset: which time was it?
        {"labelled_at": 1764583200},  # a number is no RFC 3339 time (strict)
        {"is_fraud": True},  # the kind says it; nothing else may
    ],
    ids=str,
)
def test_invalid_fields_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        item(**fields)


def test_the_published_record_is_keyed_by_account_on_the_prefixed_labels_topic() -> None:
    label = build_label(item(), TX, NOW.replace(microsecond=123456), 300)
    record, published = outgoing(label, KafkaConnection(topic_prefix="t."))
    assert (record.topic, record.key) == ("t.labels", b"acct-1")
    assert decode_label(record.value) == published
    assert published.labelled_at == NOW.replace(microsecond=123000)  # the wire's millisecond


def test_a_row_is_read_as_a_request_body_would_be() -> None:
    row = Row(2, {"transaction_id": " tx-1 ", "kind": "confirmed_fraud", "labelled_at": ""})
    parsed = parse_row(row)
    assert isinstance(parsed, LabelIn)
    assert (parsed.transaction_id, parsed.labelled_at) == ("tx-1", None)


def test_a_bad_row_is_rejected_with_its_line_and_field() -> None:
    rejected = parse_row(Row(7, {"transaction_id": "tx-1", "kind": "refund"}))
    assert isinstance(rejected, Rejected)
    assert (rejected.line, rejected.transaction_id, rejected.code) == (
        7,
        "tx-1",
        "validation_failed",
    )
    assert rejected.message.startswith("kind: ")
    extra = parse_row(Row(8, {"transaction_id": "tx-1", "kind": "chargeback", None: ["x"]}))
    assert isinstance(extra, Rejected) and "more cells" in extra.message


@pytest.mark.parametrize(
    "header", [["transaction_id"], ["transaction_id", "kind", "labeled_at"], []], ids=str
)
def test_a_header_missing_a_column_or_naming_an_unknown_one_is_refused(header: list[str]) -> None:
    with pytest.raises(BadFile):
        check_header(header)


def test_rows_keep_their_line_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cb.csv"
    path.write_text("\ufefftransaction_id,kind\ntx-1,chargeback\n\ntx-2,confirmed_genuine\n")
    (rows,) = list(read_rows(path))
    assert [(r.line, r.cells["transaction_id"]) for r in rows] == [(2, "tx-1"), (4, "tx-2")]
