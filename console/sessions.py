"""Sign-in sessions: a random id in the cookie, the record server-side in Redis.

The cookie holds 32 random bytes; Redis keeps the record under the id's SHA-256, so a
Redis dump or ``MONITOR`` shows no usable session id. A session ends at whichever comes
first: ``idle_s`` without a request, or ``absolute_s`` after sign-in. Both are checked here
on every load (the pure ``expiry`` below), and the key's Redis TTL is set to the same
moment, so an abandoned session also vanishes from Redis on its own.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict, dataclass, replace

import orjson
import redis.asyncio as aioredis

from console.roles import Role


@dataclass(frozen=True, slots=True)
class Session:
    user_id: int
    username: str
    role: Role
    csrf_token: str
    created_at: float  # epoch seconds
    last_seen: float

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes | str) -> Session:
        data = orjson.loads(raw)
        return cls(**{**data, "role": Role(data["role"])})


@dataclass(frozen=True, slots=True)
class Lifetime:
    idle_s: int
    absolute_s: int

    def expires_at(self, session: Session) -> float:
        """When ``session`` ends if no request comes first."""
        return min(session.last_seen + self.idle_s, session.created_at + self.absolute_s)

    def alive(self, session: Session, now: float) -> bool:
        return now < self.expires_at(session)


def new_token() -> str:
    """32 random bytes, URL-safe: session ids and CSRF tokens."""
    return secrets.token_urlsafe(32)


def storage_key(prefix: str, session_id: str) -> str:
    digest = hashlib.sha256(session_id.encode()).hexdigest()
    return f"{prefix}:session:{digest}"


class SessionStore:
    """Creates, loads (and touches) and destroys sessions in Redis."""

    def __init__(self, client: aioredis.Redis, prefix: str, lifetime: Lifetime) -> None:
        self.client = client
        self.prefix = prefix
        self.lifetime = lifetime

    async def create(
        self, user_id: int, username: str, role: Role, now: float
    ) -> tuple[str, Session]:
        session_id = new_token()
        session = Session(user_id, username, role, new_token(), now, now)
        await self._write(session_id, session, now)
        return session_id, session

    async def load(self, session_id: str, now: float) -> Session | None:
        """The live session behind ``session_id``, its idle clock restarted; else None."""
        raw = await self.client.get(storage_key(self.prefix, session_id))
        if raw is None:
            return None
        session = Session.from_json(raw)
        if not self.lifetime.alive(session, now):
            await self.destroy(session_id)
            return None
        touched = replace(session, last_seen=now)
        await self._write(session_id, touched, now)
        return touched

    async def peek(self, session_id: str, now: float) -> Session | None:
        """The live session behind ``session_id``, its idle clock left as it is: what a
        long-lived stream checks on each push, so watching a page is not activity."""
        raw = await self.client.get(storage_key(self.prefix, session_id))
        if raw is None:
            return None
        session = Session.from_json(raw)
        return session if self.lifetime.alive(session, now) else None

    async def destroy(self, session_id: str) -> None:
        await self.client.delete(storage_key(self.prefix, session_id))

    async def _write(self, session_id: str, session: Session, now: float) -> None:
        ttl_ms = max(1, int((self.lifetime.expires_at(session) - now) * 1000))
        await self.client.set(storage_key(self.prefix, session_id), session.to_json(), px=ttl_ms)
