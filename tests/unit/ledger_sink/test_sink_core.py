"""The sink's batch logic with in-memory stand-ins for its own three ports (no Kafka, no
PostgreSQL): dead letters before the commit, culprits isolated, transient errors retried."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import psycopg
import pytest

from ledger_sink.errors import CurrencyMismatch, KafkaUnavailable
from ledger_sink.sink import Sink, rejection
from ledger_sink.testing import decision, transaction
from ledger_sink.writer import WriteResult
from schemas.codec import encode_decision
from schemas.kafka_edge import RawRecord
from schemas.records import DeadLetter, Decision


class Journal:
    """Everything the fakes saw, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []


class FakeSource:
    def __init__(self, journal: Journal, fail_commit: bool = False) -> None:
        self.journal, self.fail_commit = journal, fail_commit

    def poll(self, max_records: int, timeout_s: float) -> list[RawRecord]:
        return []

    def commit(self, records: Sequence[RawRecord]) -> None:
        if self.fail_commit:
            raise KafkaUnavailable("rebalanced")
        self.journal.events.append(("commit", max(r.offset for r in records)))


class FakeWriter:
    """Refuses batches holding a poisoned transaction; fails transiently `flaky` times."""

    def __init__(self, journal: Journal, poisoned: set[str] = frozenset(), flaky: int = 0) -> None:
        self.journal, self.poisoned, self.flaky = journal, poisoned, flaky
        self.stored: list[str] = []

    def write(self, decisions: Sequence[Decision]) -> WriteResult:
        if self.flaky:
            self.flaky -= 1
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        if any(d.transaction_id in self.poisoned for d in decisions):
            raise CurrencyMismatch("poisoned")
        self.stored.extend(d.transaction_id for d in decisions)
        self.journal.events.append(("write", len(decisions)))
        return WriteResult(written=len(decisions), duplicates=0)


class FakeLetters:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.sent: list[DeadLetter] = []

    def send(self, letters: Sequence[DeadLetter]) -> None:
        self.sent.extend(letters)
        self.journal.events.append(("letters", len(letters)))


def records(decisions: Sequence[Decision | bytes]) -> list[RawRecord]:
    return [
        RawRecord("t.decisions", 0, offset, b"k", d if isinstance(d, bytes) else encode_decision(d))
        for offset, d in enumerate(decisions)
    ]


def sink(journal: Journal, writer: FakeWriter, **source: bool) -> tuple[Sink, FakeLetters]:
    letters = FakeLetters(journal)
    stopping = threading.Event()
    built = Sink(FakeSource(journal, **source), writer, letters, stopping, 0.001, 0.002)
    return built, letters


def test_undecodable_records_are_dead_lettered_before_the_offsets_are_committed() -> None:
    journal = Journal()
    batch = [decision(transaction("a")), b"\x00garbage", decision(transaction("b"))]
    core, letters = sink(journal, FakeWriter(journal))
    report = core.process(records(batch))
    assert report.written == 2
    assert [(letter.offset, letter.error_code, letter.value) for letter in letters.sent] == [
        (1, "unknown_schema_id", b"\x00garbage")
    ]
    assert journal.events == [("write", 2), ("letters", 1), ("commit", 2)]


def test_a_rejected_decision_is_isolated_and_the_rest_written_in_order() -> None:
    journal = Journal()
    batch = [decision(transaction("a", f"{n}.00")) for n in range(1, 10)]
    writer = FakeWriter(journal, poisoned={batch[6].transaction_id})
    core, letters = sink(journal, writer)
    report = core.process(records(batch))
    assert writer.stored == [d.transaction_id for n, d in enumerate(batch) if n != 6]
    assert [(letter.offset, letter.error_code) for letter in letters.sent] == [
        (6, "currency_mismatch")
    ]
    assert (report.written, len(report.letters)) == (8, 1)
    assert journal.events[-1] == ("commit", 8)


def test_transient_failures_are_retried_until_the_batch_is_written() -> None:
    journal = Journal()
    writer = FakeWriter(journal, flaky=3)
    core, _ = sink(journal, writer)
    assert core.process(records([decision(transaction("a"))])).written == 1
    assert journal.events == [("write", 1), ("commit", 0)]


def test_a_stop_during_an_outage_gives_up_without_committing() -> None:
    journal = Journal()
    core, _ = sink(journal, FakeWriter(journal, flaky=1_000_000))
    core.stopping.set()
    with pytest.raises(psycopg.OperationalError):
        core.process(records([decision(transaction("a"))]))
    assert journal.events == []


def test_a_failed_commit_after_the_write_is_tolerated() -> None:
    journal = Journal()
    core, _ = sink(journal, FakeWriter(journal), fail_commit=True)
    assert core.process(records([decision(transaction("a"))])).written == 1


def test_which_errors_are_the_data_s_fault() -> None:
    assert rejection(CurrencyMismatch("x")) == ("currency_mismatch", "x")
    assert rejection(psycopg.OperationalError("down")) is None
    assert rejection(RuntimeError("bug")) is None
    refused = psycopg.errors.CheckViolation("new row violates check constraint")
    code, _message = rejection(refused) or ("", "")
    assert code == "constraint_violation"
