"""The agents' transaction id claims against the real Redis (issue 18, item 8): the API's keys
and values, the API's window, a redelivery or the API's own claim of the same body passing,
another body refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal

import pytest

from ingest_api.transaction_ids import TransactionIds
from schemas.codec import decode_transaction, encode_transaction
from schemas.connections import RedisConnection
from schemas.transaction_claims import claim_key, claim_of
from stream_agents.txid_claims import TransactionIdClaims
from tests.support.agents import transactions

pytestmark = pytest.mark.integration
WINDOW_S = 120


@pytest.fixture
async def claims() -> AsyncIterator[TransactionIdClaims]:
    made = TransactionIdClaims.connect(RedisConnection().url.get_secret_value(), WINDOW_S, 1.0)
    yield made
    await made.close()


async def test_a_batch_is_claimed_with_the_apis_keys_values_and_window(
    claims: TransactionIdClaims,
) -> None:
    first, second = transactions(accounts=2, per_account=1)
    reuse = replace(first, account_id="acct-other", amount=first.amount + Decimal(1))
    # In one batch: the first body of an id wins, a redelivery of it passes.
    assert await claims.reused([first, second, reuse, first]) == [False, False, True, False]
    client = claims.client
    assert await client.get(claim_key(first.transaction_id)) == claim_of(first)[1].encode()
    assert 0 < await client.ttl(claim_key(first.transaction_id)) <= WINDOW_S
    # Another batch (a redelivery after a crash): the agent's own claim is no conflict.
    assert await claims.reused([second, reuse]) == [False, True]
    await client.delete(claim_key(first.transaction_id), claim_key(second.transaction_id))


async def test_the_apis_claim_of_the_same_body_passes_and_of_another_refuses(
    claims: TransactionIdClaims,
) -> None:
    published, other = transactions(accounts=2, per_account=1)
    api = TransactionIds(claims.client, WINDOW_S)
    await api.claim([claim_of(published), claim_of(other)])
    # What the agent decodes from Kafka hashes as what the API claimed before publishing.
    decoded = decode_transaction(encode_transaction(published), ingested_at=other.timestamp)
    gateway = replace(other, amount=other.amount + Decimal("0.01"))  # its id, straight to Kafka
    assert await claims.reused([decoded, gateway]) == [False, True]
    await claims.client.delete(claim_key(published.transaction_id), claim_key(other.transaction_id))
