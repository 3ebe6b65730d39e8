"""Lock-out counting, on the limits library's in-memory storage (no Redis)."""

from __future__ import annotations

from limits.aio.storage import MemoryStorage

from console.lockout import Lockout, Policy


def lockout(user: int = 3, address: int = 5) -> Lockout:
    return Lockout(MemoryStorage(), Policy(user, address, window_s=60), "t")


async def test_a_name_locks_after_its_failures_from_any_address() -> None:
    guard = lockout(user=3)
    for n in range(3):
        assert not await guard.locked("ana", f"10.0.0.{n}")
        await guard.failed("ana", f"10.0.0.{n}")
    assert await guard.locked("ana", "10.0.0.9")
    assert await guard.locked("ANA", "10.0.0.9")  # names count case-insensitively
    assert not await guard.locked("bob", "10.0.0.9")


async def test_an_address_locks_after_its_failures_over_any_names() -> None:
    guard = lockout(user=3, address=5)
    for n in range(5):
        await guard.failed(f"user{n}", "10.0.0.1")
    assert await guard.locked("someone-else", "10.0.0.1")
    assert not await guard.locked("someone-else", "10.0.0.2")


async def test_success_clears_the_name_but_not_the_address() -> None:
    guard = lockout(user=3, address=4)
    for _ in range(2):
        await guard.failed("ana", "10.0.0.1")
    await guard.succeeded("ana")
    for _ in range(2):
        await guard.failed("ana", "10.0.0.2")
    assert not await guard.locked("ana", "10.0.0.3")  # 2 since the success, not 4
    await guard.failed("eve", "10.0.0.1")
    await guard.failed("eve", "10.0.0.1")
    assert await guard.locked("x", "10.0.0.1")  # the address kept its count
