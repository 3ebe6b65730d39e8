"""The clients one console process holds for its lifetime, opened and closed by its lifespan."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool

from console.backtests import Runner
from console.kafka import Publisher
from console.lag import StageLags
from console.lockout import Lockout, Policy, redis_storage
from console.reviews import Claims
from console.sessions import Lifetime, SessionStore
from console.settings import ConsoleSettings
from decision_core.settings import DecisionSettings

DRY_RUNS = 2
MODEL_IO = 2


@dataclass
class Runtime:
    settings: ConsoleSettings
    pool: AsyncConnectionPool
    redis: aioredis.Redis
    sessions: SessionStore
    lockout: Lockout
    # Rules and resolutions go to Kafka through one producer.
    publisher: Publisher
    claims: Claims
    # Dry runs hold a CPU in a worker thread for up to their budget: a few at a time.
    dry_runs: asyncio.Semaphore
    # The pipeline's lag per stage, read for every Overview stream at once.
    lags: StageLags
    # Backtests run in worker processes this runner starts and watches.
    backtests: Runner
    # The agents' model registry, thresholds and breaker (SENTINEL_AGENTS_*), as
    # `sentinel replay` reads them: a backtest decides as the agents do.
    agents: DecisionSettings
    # Models pages: reading the models topic, loading a model to check it, announcing.
    model_io: asyncio.Semaphore

    @classmethod
    async def open(cls, settings: ConsoleSettings) -> Runtime:
        settings.refuse_default_secrets()
        redis_url = settings.redis.url.get_secret_value()
        client = aioredis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        pool = AsyncConnectionPool(
            settings.postgres.dsn.get_secret_value(),
            min_size=1,
            max_size=settings.pool_max,
            open=False,
            kwargs={"autocommit": True},
        )
        await pool.open(wait=False)
        lifetime = Lifetime(settings.session_idle_s, settings.session_absolute_s)
        policy = Policy(
            settings.lockout_user_failures,
            settings.lockout_address_failures,
            settings.lockout_window_s,
        )
        return cls(
            settings=settings,
            pool=pool,
            redis=client,
            sessions=SessionStore(client, settings.redis_prefix, lifetime),
            lockout=Lockout(redis_storage(redis_url), policy, settings.redis_prefix),
            publisher=Publisher(settings.kafka, settings.produce_timeout_ms),
            dry_runs=asyncio.Semaphore(DRY_RUNS),
            model_io=asyncio.Semaphore(MODEL_IO),
            claims=Claims(client, settings.redis_prefix, settings.review_claim_s),
            lags=StageLags(
                settings.kafka, settings.overview_lag_wait_s, max_age_s=settings.overview_push_s
            ),
            backtests=Runner(pool, settings.backtest_concurrency),
            agents=DecisionSettings(),
        )

    async def close(self) -> None:
        await self.backtests.close()
        await self.lags.close()
        await asyncio.to_thread(self.publisher.close)
        await self.redis.aclose()
        await self.pool.close()
