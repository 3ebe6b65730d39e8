"""Session records and their expiry: idle and absolute, whichever comes first."""

from __future__ import annotations

from dataclasses import replace

from console.roles import Role
from console.sessions import Lifetime, Session, new_token, storage_key

LIFETIME = Lifetime(idle_s=600, absolute_s=3600)


def session(created: float, last_seen: float) -> Session:
    return Session(7, "ana", Role.ANALYST, "csrf", created, last_seen)


def test_idle_expiry() -> None:
    s = session(1000.0, 1000.0)
    assert LIFETIME.alive(s, 1599.9)
    assert not LIFETIME.alive(s, 1600.0)


def test_activity_restarts_the_idle_clock_but_not_the_absolute_one() -> None:
    s = session(1000.0, 1000.0)
    touched = replace(s, last_seen=1500.0)
    assert LIFETIME.alive(touched, 2000.0)
    # Kept busy all along, it still ends an hour after sign-in.
    busy = replace(s, last_seen=4550.0)
    assert LIFETIME.expires_at(busy) == 4600.0
    assert LIFETIME.alive(busy, 4599.0)
    assert not LIFETIME.alive(busy, 4600.0)


def test_record_round_trip_keeps_the_role_type() -> None:
    s = session(1.5, 2.5)
    back = Session.from_json(s.to_json())
    assert back == s
    assert back.role is Role.ANALYST


def test_ids_are_random_and_stored_only_hashed() -> None:
    ids = {new_token() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) >= 43 for i in ids)
    some = next(iter(ids))
    key = storage_key("console", some)
    assert key.startswith("console:session:")
    assert some not in key
    assert key == storage_key("console", some)
