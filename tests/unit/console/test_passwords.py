"""argon2id hashing: round trip, refusals, and an unknown user costing a verification."""

from __future__ import annotations

import pytest

from console import passwords


def test_hash_verifies_and_is_argon2id_salted() -> None:
    first = passwords.hash_password("correct horse battery")
    second = passwords.hash_password("correct horse battery")
    assert first.startswith("$argon2id$")
    assert first != second  # a fresh salt each time
    assert passwords.verify(first, "correct horse battery")
    assert not passwords.verify(first, "correct horse batterY")
    assert not passwords.needs_rehash(first)


def test_unknown_user_never_verifies() -> None:
    assert not passwords.verify(None, "no user has this password; it only spends the same time")
    assert not passwords.verify(None, "anything at all")


def test_garbage_hash_and_oversized_password_are_refusals_not_errors() -> None:
    stored = passwords.hash_password("correct horse battery")
    assert not passwords.verify("not-a-hash", "correct horse battery")
    assert not passwords.verify(stored, "x" * (passwords.MAX_LENGTH + 1))


@pytest.mark.parametrize("password", ["", "short", "x" * (passwords.MAX_LENGTH + 1)])
def test_weak_passwords_are_refused_before_hashing(password: str) -> None:
    with pytest.raises(passwords.WeakPassword):
        passwords.hash_password(password)


def test_weaker_parameters_need_a_rehash() -> None:
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("correct horse battery")
    assert passwords.verify(weak, "correct horse battery")
    assert passwords.needs_rehash(weak)
