"""Lock-out after repeated failed sign-ins, per user name and per client address.

The same counters as the API's failed-auth limit (``ingest_api/ratelimit.py``): the
``limits`` library's sliding-window counters in Redis, so a burst at a window edge counts
in full. Two counters, because each alone has a hole: per user, one address guessing many
names is never stopped; per address, a botnet guessing one name is never stopped. A
successful sign-in clears its user's counter (not the address's: a guesser who owns one
account must not reset the count for the others).

A locked name or address is refused even with the right password, and told only
"too many failed sign-ins", never which counter tripped or whether the name exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from redis.exceptions import RedisError

from console.errors import Unavailable


@dataclass(frozen=True, slots=True)
class Policy:
    user_failures: int
    address_failures: int
    window_s: int

    def user_item(self) -> RateLimitItem:
        return RateLimitItemPerSecond(self.user_failures, self.window_s)

    def address_item(self) -> RateLimitItem:
        return RateLimitItemPerSecond(self.address_failures, self.window_s)


def redis_storage(redis_url: str) -> Storage:
    uri = redis_url.replace("redis://", "async+redis://", 1)
    return RedisStorage(uri, implementation="redispy", wrap_exceptions=True)


class Lockout:
    """Counts failed sign-ins; says whether a name or an address is locked."""

    def __init__(self, storage: Storage, policy: Policy, prefix: str) -> None:
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self.policy = policy
        self.prefix = prefix

    async def locked(self, username: str, address: str) -> bool:
        """Whether either counter is exhausted (counts nothing)."""
        try:
            user_ok = await self._limiter.test(self.policy.user_item(), *self._user(username))
            address_ok = await self._limiter.test(
                self.policy.address_item(), *self._address(address)
            )
        except (StorageError, RedisError) as exc:
            raise Unavailable("the sign-in guard is unavailable; retry shortly") from exc
        return not (user_ok and address_ok)

    async def failed(self, username: str, address: str) -> None:
        """Count one failure against both the name and the address."""
        try:
            await self._limiter.hit(self.policy.user_item(), *self._user(username))
            await self._limiter.hit(self.policy.address_item(), *self._address(address))
        except (StorageError, RedisError) as exc:
            raise Unavailable("the sign-in guard is unavailable; retry shortly") from exc

    async def succeeded(self, username: str) -> None:
        try:
            await self._limiter.clear(self.policy.user_item(), *self._user(username))
        except (StorageError, RedisError) as exc:
            raise Unavailable("the sign-in guard is unavailable; retry shortly") from exc

    def _user(self, username: str) -> tuple[str, str]:
        return f"{self.prefix}:signin-user", username.lower()

    def _address(self, address: str) -> tuple[str, str]:
        return f"{self.prefix}:signin-address", address
