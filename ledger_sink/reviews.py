"""`sentinel reviews sink`: the analysts' resolutions of REVIEW decisions, from the ``reviews``
topic into the ledger, and what each one sets off.

The console publishes a resolution (``schemas.records.ReviewResolution``) when an analyst
approves or declines a case; this sink is where it takes effect, with the decision sink's
parts (the same ``Sink`` loop: database commit, then dead letters, then offsets; transient
failures retried; a record that can never be applied isolated by bisection and
dead-lettered). Per batch, in one PostgreSQL transaction:

- each resolution must name a stored REVIEW decision of its transaction and account, else it
  is dead-lettered (``not_under_review``);
- it is inserted into ``review_resolutions``, whose unique transaction id lets one resolution
  per case take effect: the same resolution again (a double submit, a redelivery) changes
  nothing, another one (a second analyst) is dead-lettered (``already_resolved``);
- an APPROVE appends the ``resolution`` ledger entry that moves the money, chained after the
  account's head under its balance row's lock like every other entry.

After the commit, for every resolution of the batch that took effect (again on a
redelivery, so a crash in between loses nothing): a ``decision.resolved`` webhook event
(its id derived from the decision, so subscribers see one event however often it is sent),
and a label: confirmed fraud (``is_fraud``) for a DECLINE the analyst confirmed, genuine for
an APPROVE; a DECLINE without confirmation teaches nothing and makes no label. A produce
that fails fails the batch, which is retried.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from ledger_sink.connection import OwnConnection
from ledger_sink.errors import Unwritable
from ledger_sink.hashchain import LedgerEntry
from ledger_sink.head_publisher import Producing, SigningWriter
from ledger_sink.heads import Head
from ledger_sink.kafka_io import DurableProducer
from ledger_sink.ledger import ChainHead, Movement, advance, resolution_entry
from ledger_sink.raw import dead_letter
from ledger_sink.rows import columns
from ledger_sink.service import ClosingWriter, consume
from ledger_sink.settings import ConsumerSettings, LedgerSigning
from ledger_sink.sink import Incoming
from ledger_sink.writer import WriteResult, append_entries, lock_heads
from schemas.codec import decode_review_resolution, encode_label, encode_webhook_event
from schemas.enums import Outcome, TxType
from schemas.errors import SchemaError
from schemas.kafka_edge import RawRecord
from schemas.records import (
    DeadLetter,
    Label,
    ReviewResolution,
    WebhookEvent,
    decision_event,
    decision_id_for,
)
from schemas.topics import LABELS, REVIEWS, WEBHOOKS

RESOLVED_EVENT = "decision.resolved"
VERDICTS = frozenset({Outcome.APPROVE, Outcome.DECLINE})
MAX_NOTE = 2000
# The scenario a label made by an analyst carries (the simulator's labels name a pattern).
ANALYST_SCENARIO = "analyst_review"

CASES = """
SELECT d.transaction_id, d.account_id, d.decision_id::text, d.outcome::text, t.amount,
       t.currency, t.type, t.merchant_id, t.event_ts
FROM decisions d JOIN transactions t USING (transaction_id)
WHERE d.transaction_id = ANY(%b::text[])
"""

INSERT_RESOLUTIONS = """
INSERT INTO review_resolutions (
    resolution_id, transaction_id, account_id, decision_id, verdict, confirmed_fraud, note,
    analyst, resolved_at
)
SELECT * FROM unnest(
    %b::uuid[], %b::text[], %b::text[], %b::uuid[], %b::decision_outcome[], %b::bool[],
    %b::text[], %b::text[], %b::timestamptz[]
)
ON CONFLICT (transaction_id) DO NOTHING
RETURNING resolution_id::text
"""
INSERT_WIDTH = 9

STORED = """
SELECT transaction_id, resolution_id::text FROM review_resolutions
WHERE transaction_id = ANY(%b::text[])
"""


class NotUnderReview(Unwritable):
    """A resolution whose transaction has no REVIEW decision (or not the one it names)."""

    code = "not_under_review"


class AlreadyResolved(Unwritable):
    """A resolution of a case another resolution has already closed."""

    code = "already_resolved"


class ReviewsSettings(ConsumerSettings):
    """What `sentinel reviews sink` reads from its environment (``SENTINEL_REVIEWS_*``)."""

    model_config = SettingsConfigDict(
        env_prefix="SENTINEL_REVIEWS_", frozen=True, extra="ignore", use_attribute_docstrings=True
    )

    group_id: str = "reviews-sink"
    """The consumer group, prefixed with the topic prefix."""
    batch_size: int = Field(default=100, ge=1, le=10_000)
    """Resolutions per database transaction: they arrive at a person's pace, and small
    batches keep each one's wait short."""
    signing: LedgerSigning = Field(default_factory=LedgerSigning)
    """The chain heads' key (``SENTINEL_LEDGER_*``): the reviews sink signs the heads it
    moves, as the decision sink does."""

    def topic(self, name: str) -> str:
        return f"{self.kafka.topic_prefix}{name}"


@dataclass(frozen=True, slots=True)
class Case:
    """A stored decision and what its resolution needs of its transaction."""

    transaction_id: str
    account_id: str
    decision_id: str
    outcome: str
    amount: Decimal
    currency: str
    tx_type: str
    merchant_id: str
    event_ts: datetime


def decode(record: RawRecord) -> Incoming[ReviewResolution] | DeadLetter:
    """A resolution ready to apply, or the dead letter saying why it is not one."""
    try:
        resolution = decode_review_resolution(record.value)
    except SchemaError as exc:
        return dead_letter(record, exc.code, str(exc))
    problem = invalid(resolution)
    if problem is not None:
        return dead_letter(record, "invalid_resolution", problem)
    return Incoming(record, resolution)


def invalid(resolution: ReviewResolution) -> str | None:
    """Why `resolution` can never be applied, whatever the ledger holds; None if it can."""
    try:
        uuid.UUID(resolution.resolution_id)
    except ValueError:
        return f"resolution_id {resolution.resolution_id!r} is not a UUID"
    if resolution.verdict not in VERDICTS:
        return f"verdict {resolution.verdict} is neither APPROVE nor DECLINE"
    if resolution.confirmed_fraud and resolution.verdict is not Outcome.DECLINE:
        return "confirmed fraud goes only with DECLINE"
    if resolution.decision_id != decision_id_for(resolution.transaction_id):
        return "decision_id is not the decision of transaction_id"
    if not resolution.analyst:
        return "no analyst"
    if len(resolution.note) > MAX_NOTE:
        return f"the note is longer than {MAX_NOTE} characters"
    return None


def first_per_case(resolutions: Sequence[ReviewResolution]) -> list[ReviewResolution]:
    """Each case's resolution once, in stream order; two different ones of one case in a batch
    are refused here (the batch then splits, and the first alone takes effect)."""
    first: dict[str, ReviewResolution] = {}
    for resolution in resolutions:
        held = first.setdefault(resolution.transaction_id, resolution)
        if held.resolution_id != resolution.resolution_id:
            raise AlreadyResolved(
                f"transaction {resolution.transaction_id} is resolved by {held.resolution_id}"
            )
    return list(first.values())


def check_case(resolution: ReviewResolution, case: Case | None) -> None:
    """Raise NotUnderReview unless `case` is the REVIEW decision `resolution` names."""
    if case is None:
        raise NotUnderReview(f"transaction {resolution.transaction_id} has no decision")
    if case.account_id != resolution.account_id or case.decision_id != resolution.decision_id:
        raise NotUnderReview(
            f"transaction {resolution.transaction_id} belongs to another account or decision"
        )
    if case.outcome != Outcome.REVIEW.value:
        raise NotUnderReview(
            f"transaction {resolution.transaction_id} was decided {case.outcome}, not REVIEW"
        )


def plan_approvals(
    approvals: Sequence[tuple[ReviewResolution, Case]],
    heads: dict[str, ChainHead],
    now: datetime,
) -> tuple[list[LedgerEntry], dict[str, ChainHead]]:
    """The resolution entry of each approval, chained in order, and the touched heads."""
    current = dict(heads)
    entries: list[LedgerEntry] = []
    for resolution, case in approvals:
        movement = Movement(
            case.transaction_id, case.amount, case.currency.strip(), TxType(case.tx_type), True
        )
        head = current[case.account_id]
        entry = resolution_entry(head, movement, case.decision_id, resolution.resolution_id, now)
        current[case.account_id] = advance(head, entry)
        entries.append(entry)
    touched = {entry.account_id for entry in entries}
    return entries, {a: h for a, h in current.items() if a in touched}


def resolved_event(resolution: ReviewResolution, case: Case) -> WebhookEvent:
    """The ``decision.resolved`` event subscribers receive (the same on every resend)."""
    payload = {
        "decision_id": case.decision_id,
        "transaction_id": case.transaction_id,
        "account_id": case.account_id,
        "resolution_id": resolution.resolution_id,
        "outcome": resolution.verdict.value,
        "confirmed_fraud": resolution.confirmed_fraud,
        "amount": str(case.amount),
        "currency": case.currency.strip(),
        "resolved_at": resolution.resolved_at.isoformat(),
    }
    return decision_event(
        case.decision_id,
        RESOLVED_EVENT,
        created_at=resolution.resolved_at,
        account_id=case.account_id,
        transaction_id=case.transaction_id,
        payload=payload,
    )


def label_of(resolution: ReviewResolution, case: Case) -> Label | None:
    """What the verdict teaches: fraud confirmed, genuine approved, or nothing."""
    if resolution.verdict is Outcome.DECLINE and not resolution.confirmed_fraud:
        return None
    return Label(
        transaction_id=case.transaction_id,
        account_id=case.account_id,
        merchant_id=case.merchant_id,
        is_fraud=resolution.confirmed_fraud,
        labelled_at=resolution.resolved_at,
        transaction_timestamp=case.event_ts,
        scenario=ANALYST_SCENARIO,
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ReviewWriter:
    """Applies resolutions (see the module docstring); owns one connection, reopened after a
    failure, and the two producers of what a resolution sets off. Not thread-safe."""

    def __init__(
        self,
        dsn: str,
        webhooks: Producing,
        labels: Producing,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._db = OwnConnection(dsn)
        self._webhooks, self._labels = webhooks, labels
        self._clock = clock

    def write(self, resolutions: Sequence[ReviewResolution], /) -> WriteResult:
        batch = first_per_case(resolutions)
        with self._db.transaction() as conn:
            applied, inserted, heads = self._apply(conn, batch)
        self._publish(applied)
        return WriteResult(len(inserted), len(resolutions) - len(inserted), tuple(heads))

    def _apply(
        self, conn: psycopg.Connection, batch: list[ReviewResolution]
    ) -> tuple[list[tuple[ReviewResolution, Case]], set[str], list[Head]]:
        ids = [r.transaction_id for r in batch]
        cases = {row[0]: Case(*row) for row in conn.execute(CASES, [ids])}
        for resolution in batch:
            check_case(resolution, cases.get(resolution.transaction_id))
        rows = [_resolution_row(r) for r in batch]
        inserted = {row[0] for row in conn.execute(INSERT_RESOLUTIONS, columns(rows, INSERT_WIDTH))}
        stored: dict[str, str] = dict(conn.execute(STORED, [ids]).fetchall())
        for resolution in batch:
            if stored.get(resolution.transaction_id) != resolution.resolution_id:
                raise AlreadyResolved(
                    f"transaction {resolution.transaction_id} is already resolved by "
                    f"{stored.get(resolution.transaction_id)}"
                )
        applied = [(r, cases[r.transaction_id]) for r in batch]
        approvals = [
            (r, case)
            for r, case in applied
            if r.resolution_id in inserted and r.verdict is Outcome.APPROVE
        ]
        heads: list[Head] = []
        if approvals:
            currencies = {case.account_id: case.currency.strip() for _, case in approvals}
            locked = lock_heads(conn, currencies)
            entries, moved = plan_approvals(approvals, locked, self._clock())
            heads = append_entries(conn, entries, moved)
        return applied, inserted, heads

    def _publish(self, applied: list[tuple[ReviewResolution, Case]]) -> None:
        events = [
            (case.account_id.encode(), encode_webhook_event(resolved_event(r, case)))
            for r, case in applied
        ]
        labels = [
            (case.account_id.encode(), encode_label(label))
            for r, case in applied
            if (label := label_of(r, case)) is not None
        ]
        if events:
            self._webhooks.produce_all(events)
        if labels:
            self._labels.produce_all(labels)

    def close(self) -> None:
        self._db.close()


def _resolution_row(r: ReviewResolution) -> tuple[object, ...]:
    return (
        r.resolution_id, r.transaction_id, r.account_id, r.decision_id, r.verdict.value,
        r.confirmed_fraud, r.note, r.analyst, r.resolved_at,
    )  # fmt: skip


def run(settings: ReviewsSettings, stopping: threading.Event) -> None:
    """Apply resolutions from the ``reviews`` topic until `stopping` is set."""
    webhooks = DurableProducer(settings.kafka, settings.topic(WEBHOOKS.name))
    labels = DurableProducer(settings.kafka, settings.topic(LABELS.name))
    writer: ClosingWriter[ReviewResolution] = ReviewWriter(
        settings.postgres.dsn.get_secret_value(), webhooks, labels
    )
    key = settings.signing.key()
    if key is not None:
        heads = DurableProducer(
            settings.kafka, settings.signing.heads_topic(settings.kafka.topic_prefix)
        )
        writer = SigningWriter(writer, heads, key, settings.signing.heads_interval_s)
    try:
        consume("reviews sink", settings, settings.topic(REVIEWS.name), writer, decode, stopping)
    finally:
        webhooks.close()
        labels.close()
