"""RedriveProducer.close: a fence is not raised again at the close (it would hide the error a
run stops with); any other flush failure is a RedriveFailed."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from dlq.kafka import RedriveFailed, RedriveProducer


class FailingFlush:
    def __init__(self, code: int) -> None:
        self.code = code

    def flush(self, _timeout: float) -> int:
        raise KafkaException(KafkaError(self.code, "refused", fatal=True))


def producer_failing_with(code: int) -> RedriveProducer:
    producer = object.__new__(RedriveProducer)  # no client: only close's handling is tested
    producer._producer = FailingFlush(code)  # type: ignore[assignment]
    return producer


@pytest.mark.parametrize(
    "code", [KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH]
)
def test_a_fenced_producer_closes_quietly(code: int) -> None:
    producer_failing_with(code).close()


def test_another_flush_failure_is_a_redrive_failure() -> None:
    with pytest.raises(RedriveFailed, match="could not flush"):
        producer_failing_with(KafkaError._MSG_TIMED_OUT).close()
