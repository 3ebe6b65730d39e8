"""The transaction id registry's contract (issue 18, item 8), shared by the API and the agents:
what conflicts, what a claimer may release, and a hash that ignores what a retry changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from ledger_sink.testing import transaction
from schemas.transaction_claims import claim_key, conflicts, created, short_fingerprint


def test_only_another_hash_is_a_conflict_and_only_free_ids_were_created() -> None:
    claims = [("t-1", "aa"), ("t-2", "bb"), ("t-3", "cc")]
    previous = [None, "bb", "zz"]  # free, a retry of the same content, another body
    assert conflicts(claims, previous) == [False, False, True]
    assert created(claims, previous) == [("t-1", "aa")]


def test_the_short_fingerprint_ignores_the_ingest_time_and_the_idempotency_key() -> None:
    tx = transaction("acct-1", "10.00")
    retry = replace(tx, ingested_at=tx.timestamp + timedelta(seconds=2), idempotency_key="k-2")
    assert short_fingerprint(retry) == short_fingerprint(tx)
    assert len(short_fingerprint(tx)) == 32
    assert short_fingerprint(replace(tx, account_id="acct-2")) != short_fingerprint(tx)
    assert claim_key("t-1") == "txid:t-1"


def test_two_bodies_of_one_id_in_one_pipeline_the_first_wins() -> None:
    # The answers of SET NX GET sent in order: the second claim sees the first one's hash.
    claims = [("t-1", "aa"), ("t-1", "bb"), ("t-1", "aa")]
    previous = [None, "aa", "aa"]
    assert conflicts(claims, previous) == [False, True, False]
    assert created(claims, previous) == [("t-1", "aa")]
