"""Labels from the bank's systems (chargebacks, fraud confirmations): the one request model,
the one check against the ledger and the one ``Label`` building that ``POST /v1/labels`` and
`sentinel labels import` share.

A label names a transaction the ledger holds; its account, merchant and event time come
from there, never from the caller. ``labelled_at`` is when the verdict became known
(default: when it was received): weeks after the transaction is normal for a chargeback,
but never before the transaction and never in the future (beyond the clock skew the API
allows transactions).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from ingest_api.errors import InvalidRequest, TransactionNotFound
from ingest_api.models import PrintableText
from ingest_api.publisher import OutgoingRecord
from ingest_api.readside import LabelledTransaction
from schemas.codec import decode_label, encode_label
from schemas.connections import KafkaConnection
from schemas.enums import LabelKind
from schemas.pan import contains_pan
from schemas.records import Label
from schemas.topics import LABELS
from schemas.validation import EXTERNAL_ID_MAX, external_id_problem

MAX_REASON = 200
_PAN_REFUSED = "holds a card number (PAN); card numbers are never stored"


class LabelIn(BaseModel):
    """A verdict on one recorded transaction."""

    model_config = ConfigDict(extra="forbid")

    transaction_id: str = Field(
        min_length=1, max_length=EXTERNAL_ID_MAX, description="A transaction the ledger holds."
    )
    kind: LabelKind = Field(
        description="chargeback and confirmed_fraud are fraud (is_fraud), confirmed_genuine is"
        " not. Send only fraud-coded chargebacks: a dispute over goods is no fraud label."
    )
    labelled_at: AwareDatetime | None = Field(
        default=None,
        description="When the verdict became known (default: when the API received it). Not"
        " before the transaction, not in the future; weeks late is normal for a chargeback.",
    )
    reason: (
        Annotated[PrintableText, StringConstraints(min_length=1, max_length=MAX_REASON)] | None
    ) = Field(
        default=None,
        description="The source's reason code or note, e.g. a scheme's chargeback reason code;"
        " text holding a card number is refused.",
        examples=["10.4"],
    )

    @field_validator("transaction_id")
    @classmethod
    def _ledger_id(cls, value: str) -> str:
        problem = external_id_problem(value)
        if problem is not None:
            raise ValueError(problem)
        if contains_pan(value):
            raise ValueError(_PAN_REFUSED)
        return value

    @field_validator("reason")
    @classmethod
    def _no_card_number(cls, value: str | None) -> str | None:
        if value is not None and contains_pan(value):
            raise ValueError(_PAN_REFUSED)
        return value


def parse_label(raw: bytes | Mapping[str, Any]) -> LabelIn:
    """Strict validation in JSON mode; parsed input (a CSV row) is round-tripped through JSON
    so that it meets exactly the rules a request body meets."""
    data = raw if isinstance(raw, bytes) else orjson.dumps(dict(raw))
    return LabelIn.model_validate_json(data, strict=True)


def build_label(
    item: LabelIn, tx: LabelledTransaction | None, received_at: datetime, max_skew_s: int
) -> Label:
    """The label for ``item``, its transaction ``tx`` as the ledger holds it (None: unknown).

    Raises TransactionNotFound for an unknown transaction and InvalidRequest for a
    ``labelled_at`` in the future or before the transaction.
    """
    if tx is None:
        raise TransactionNotFound(
            f"the ledger holds no transaction {item.transaction_id}",
            {"transaction_id": item.transaction_id},
        )
    labelled_at = item.labelled_at or received_at
    if labelled_at > received_at + timedelta(seconds=max_skew_s):
        raise _time_refused("labelled_at is in the future", "labelled_at_in_future")
    if labelled_at < tx.timestamp:
        raise _time_refused(
            f"labelled_at is before the transaction ({tx.timestamp.isoformat()})",
            "labelled_at_before_transaction",
        )
    return Label(
        transaction_id=item.transaction_id,
        account_id=tx.account_id,
        merchant_id=tx.merchant_id,
        is_fraud=item.kind.is_fraud,
        scenario=item.kind.value,
        labelled_at=labelled_at,
        transaction_timestamp=tx.timestamp,
        reason=item.reason,
    )


def _time_refused(message: str, kind: str) -> InvalidRequest:
    return InvalidRequest(message, [{"path": "labelled_at", "message": message, "type": kind}])


def outgoing(label: Label, kafka: KafkaConnection) -> tuple[OutgoingRecord, Label]:
    """The record for the labels topic (keyed by account id, as the topic says), and the
    label as its consumers will read it (times at the millisecond the wire holds)."""
    value = encode_label(label)
    record = OutgoingRecord(
        key=label.account_id.encode(), value=value, topic=f"{kafka.topic_prefix}{LABELS.name}"
    )
    return record, decode_label(value)


def label_body(label: Label) -> dict[str, Any]:
    """A published label as the API answers it (and the import reports it)."""
    return {
        "transaction_id": label.transaction_id,
        "account_id": label.account_id,
        "merchant_id": label.merchant_id,
        "kind": label.scenario,
        "is_fraud": label.is_fraud,
        "reason": label.reason,
        "labelled_at": label.labelled_at.isoformat(),
        "transaction_timestamp": label.transaction_timestamp.isoformat(),
    }
