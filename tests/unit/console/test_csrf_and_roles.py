"""The CSRF comparison and the role order."""

from __future__ import annotations

import pytest

from console import csrf
from console.roles import Role


def test_csrf_matches_only_the_same_non_empty_token() -> None:
    assert csrf.matches("abc123", "abc123")
    assert not csrf.matches("abc123", "abc124")
    assert not csrf.matches("abc123", None)
    assert not csrf.matches("abc123", "")
    assert not csrf.matches(None, None)
    assert not csrf.matches("", "")


@pytest.mark.parametrize(
    ("role", "required", "allowed"),
    [
        (Role.VIEWER, Role.VIEWER, True),
        (Role.VIEWER, Role.ANALYST, False),
        (Role.ANALYST, Role.ANALYST, True),
        (Role.ANALYST, Role.ADMIN, False),
        (Role.ADMIN, Role.VIEWER, True),
        (Role.ADMIN, "analyst", True),  # templates name roles as text
    ],
)
def test_role_order(role: Role, required: Role | str, allowed: bool) -> None:
    assert role.allows(required) is allowed
