"""The clients one API process holds for its lifetime, opened and closed by the app's lifespan."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool

from ingest_api.admission import Admission
from ingest_api.auth import KeyCache, LruTtlCache
from ingest_api.decision_waiter import DecisionWaiter
from ingest_api.idempotency import IdempotencyStore
from ingest_api.key_usage import UsageRecorder
from ingest_api.publisher import KafkaPublisher
from ingest_api.ratelimit import FailedAuthLimiter, RateLimiter
from ingest_api.settings import ApiSettings
from ingest_api.store_capacity import FillAlarm, watch


@dataclass
class Runtime:
    settings: ApiSettings
    publisher: KafkaPublisher
    waiter: DecisionWaiter
    redis: aioredis.Redis
    idempotency: IdempotencyStore
    limiter: RateLimiter
    admission: Admission
    pool: AsyncConnectionPool
    keys: KeyCache
    usage_task: asyncio.Task[None]
    store_alarm: FillAlarm
    capacity_task: asyncio.Task[None]

    @classmethod
    async def open(cls, settings: ApiSettings) -> Runtime:
        settings.refuse_default_secrets()  # every worker process, however it was started
        redis_url = settings.redis.url.get_secret_value()
        client = aioredis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        pool = AsyncConnectionPool(
            settings.postgres.dsn.get_secret_value(), min_size=1, max_size=10, open=False
        )
        await pool.open(wait=False)
        usage = UsageRecorder(settings.api_key_last_used_s)
        alarm = FillAlarm(settings.idempotency_store_warn_ratio)
        capacity = watch(client, alarm, settings.idempotency_store_poll_s)
        admission = Admission(client)
        return cls(
            settings=settings,
            publisher=KafkaPublisher(
                settings.kafka, settings.producer_linger_ms, settings.produce_timeout_ms
            ),
            waiter=DecisionWaiter(settings.kafka),
            redis=client,
            idempotency=IdempotencyStore(
                client, settings.idempotency_ttl_s, settings.idempotency_lock_s
            ),
            limiter=RateLimiter(redis_url, admission, client),
            admission=admission,
            pool=pool,
            keys=KeyCache(
                pool,
                settings.api_key_pepper.get_secret_value(),
                LruTtlCache(settings.api_key_cache_max, settings.api_key_cache_s),
                FailedAuthLimiter(redis_url, settings.auth_failures_per_minute),
                usage,
            ),
            usage_task=asyncio.create_task(usage.run(pool), name="api-key-usage"),
            store_alarm=alarm,
            capacity_task=asyncio.create_task(capacity, name="idempotency-store-capacity"),
        )

    async def close(self) -> None:
        self.usage_task.cancel()
        self.capacity_task.cancel()
        self.waiter.close()
        self.publisher.close()
        await self.redis.aclose()
        await self.pool.close()
