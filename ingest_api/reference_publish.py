"""Publishers for the reference topics the admin API writes (lists, accounts); rules reach
their topic through the outbox relay (``reference_store.relay``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ingest_api.publisher import KafkaPublisher, OutgoingRecord
from schemas.codec import encode_account_profile, encode_named_list
from schemas.connections import KafkaConnection
from schemas.records import AccountProfile, NamedList
from schemas.topics import ACCOUNTS, LISTS


def _publisher(publisher: KafkaPublisher, topic: str) -> Callable[[bytes, bytes], Awaitable[None]]:
    async def send(key: bytes, value: bytes) -> None:
        await publisher.publish([OutgoingRecord(key=key, value=value, topic=topic)])

    return send


def list_publisher(
    p: KafkaPublisher, kafka: KafkaConnection
) -> Callable[[NamedList], Awaitable[None]]:
    send = _publisher(p, f"{kafka.topic_prefix}{LISTS.name}")

    async def publish(named: NamedList) -> None:
        await send(named.name.encode(), encode_named_list(named))

    return publish


def profile_publisher(
    p: KafkaPublisher, kafka: KafkaConnection
) -> Callable[[AccountProfile], Awaitable[None]]:
    send = _publisher(p, f"{kafka.topic_prefix}{ACCOUNTS.name}")

    async def publish(profile: AccountProfile) -> None:
        await send(profile.account_id.encode(), encode_account_profile(profile))

    return publish
