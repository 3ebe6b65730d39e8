"""The partitioning contract's rule: a record off its key's partition forwarded home, one
not keyed by its account dead-lettered (``decision_core.placement``), as the agents and
replay apply it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from decision_core.placement import (
    FORWARDED,
    KEY_MISSING,
    KEY_NOT_ACCOUNT,
    REPARTITION,
    REPARTITIONED_FROM,
    STILL_MISPLACED,
    place,
)
from decision_core.records import BatchResult, Screened, SourceRecord
from schemas.codec import decode_dead_letter
from schemas.enums import Channel, TxType
from schemas.partitioning import home_partition
from schemas.records import Transaction

PARTITIONS = 12


def tx(account: str = "acct-1") -> Transaction:
    return Transaction(
        transaction_id="tx-1",
        account_id=account,
        card_token="tok_abcdefgh",
        amount=Decimal("10.00"),
        currency="INR",
        merchant_id="m-1",
        country="IN",
        channel=Channel.POS,
        timestamp=datetime(2030, 1, 1, tzinfo=UTC),
        type=TxType.DEBIT,
    )


def screened(
    partition: int,
    key: bytes | None = b"acct-1",
    headers: tuple[tuple[str, bytes], ...] = (),
    account: str = "acct-1",
) -> Screened:
    record = SourceRecord("transactions", partition, 41, 1_700_000_000_000, key, b"v", headers)
    return Screened(record, tx(account))


HOME = home_partition(b"acct-1", PARTITIONS)
AWAY = (HOME + 5) % PARTITIONS


def test_a_record_on_its_home_partition_is_kept_and_nothing_published() -> None:
    result = BatchResult()
    one = screened(HOME)
    placed = place([one], PARTITIONS, result, home_partition)
    assert placed.kept == [one]
    assert not placed.moved
    assert result.outgoing == []


def test_a_record_elsewhere_is_copied_to_its_home_partition_with_where_it_came_from() -> None:
    result = BatchResult()
    one = screened(AWAY, headers=(("trace", b"t-1"),))
    placed = place([one], PARTITIONS, result, home_partition)
    assert placed.kept == []
    assert placed.moved == {FORWARDED: 1}
    assert result.dead_lettered == 0
    [copy] = result.outgoing
    assert (copy.role, copy.partition) == (REPARTITION, HOME)
    assert (copy.key, copy.value) == (b"acct-1", b"v")
    assert copy.headers == (("trace", b"t-1"), (REPARTITIONED_FROM, f"{AWAY}/41".encode()))
    assert copy.timestamp_ms == 1_700_000_000_000  # the original's: same event-time checks


def test_a_forwarded_copy_still_away_is_dead_lettered_not_sent_round_again() -> None:
    result = BatchResult()
    one = screened(AWAY, headers=((REPARTITIONED_FROM, b"3/7"),))
    placed = place([one], PARTITIONS, result, home_partition)
    assert placed.moved == {STILL_MISPLACED: 1}
    assert result.dead_lettered == 1
    letter = decode_dead_letter(result.outgoing[0].value)
    assert letter.error_code == STILL_MISPLACED
    assert "partition count change" in letter.error_message
    assert letter.headers == {REPARTITIONED_FROM: "3/7"}


@pytest.mark.parametrize(
    ("key", "code", "says"),
    [
        (None, KEY_MISSING, "no key"),
        (b"acct-2", KEY_NOT_ACCOUNT, "key 'acct-2' is not the account id 'acct-1'"),
        (b"\xff", KEY_NOT_ACCOUNT, "is not the account id"),
    ],
)
def test_a_record_not_keyed_by_its_account_is_dead_lettered_wherever_it_is(
    key: bytes | None, code: str, says: str
) -> None:
    for partition in (HOME, AWAY):
        result = BatchResult()
        placed = place([screened(partition, key)], PARTITIONS, result, home_partition)
        assert placed.kept == []
        assert placed.moved == {code: 1}
        letter = decode_dead_letter(result.outgoing[0].value)
        assert (letter.error_code, letter.partition, letter.offset) == (code, partition, 41)
        assert says in letter.error_message


def test_without_the_partition_count_only_the_keys_are_checked() -> None:
    result = BatchResult()
    good, keyless = screened(AWAY), screened(AWAY, key=None)
    placed = place([good, keyless], None, result, home_partition)
    assert placed.kept == [good]
    assert placed.moved == {KEY_MISSING: 1}
