"""`make up`'s demo analyst: which `sentinel users` commands run, and the password file."""

from __future__ import annotations

import stat
from collections.abc import Sequence
from pathlib import Path

import pytest

from console.cli import EXIT_USER_EXISTS
from deploy.local.demo_analyst import (
    USERNAME,
    DemoAnalystError,
    Outcome,
    ensure,
    password_file,
)


class Users:
    """`sentinel users` as far as the step sees it: exit statuses, and the calls made."""

    def __init__(self, exists: bool, fail: int = 0) -> None:
        self.exists, self.fail = exists, fail
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, args: Sequence[str]) -> int:
        self.calls.append(tuple(args))
        if self.fail:
            return self.fail
        if args[1] == "create":
            if self.exists:
                return EXIT_USER_EXISTS
            self.exists = True
        return 0


def test_a_first_run_generates_a_private_password_and_creates_the_analyst(
    tmp_path: Path,
) -> None:
    path = password_file(tmp_path)
    users = Users(exists=False)
    assert ensure(path, users) is Outcome.CREATED
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password = path.read_text().strip()
    assert len(password) >= 32
    assert users.calls == [
        ("users", "create", USERNAME, "--role", "analyst", "--password-file", str(path))
    ]


def test_a_second_run_keeps_the_password_and_the_analyst(tmp_path: Path) -> None:
    path = password_file(tmp_path)
    users = Users(exists=False)
    ensure(path, users)
    before = path.read_text()
    assert ensure(path, users) is Outcome.KEPT
    assert path.read_text() == before
    assert [call[1] for call in users.calls] == ["create", "create"]


def test_a_deleted_file_gets_a_new_password_and_the_analyst_is_reset_to_it(
    tmp_path: Path,
) -> None:
    path = password_file(tmp_path)
    users = Users(exists=False)
    ensure(path, users)
    before = path.read_text()
    path.unlink()
    assert ensure(path, users) is Outcome.RESET
    assert path.read_text() != before
    assert users.calls[-1] == ("users", "password", USERNAME, "--password-file", str(path))


def test_a_kept_file_with_a_fresh_database_creates_the_analyst_from_it(tmp_path: Path) -> None:
    path = password_file(tmp_path)
    ensure(path, Users(exists=False))
    before = path.read_text()
    assert ensure(path, Users(exists=False)) is Outcome.CREATED
    assert path.read_text() == before


def test_any_other_failure_stops_make_up(tmp_path: Path) -> None:
    with pytest.raises(DemoAnalystError, match="exited with 2"):
        ensure(password_file(tmp_path), Users(exists=False, fail=2))
