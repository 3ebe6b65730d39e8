"""The demo key file is created private from its first byte, never written through a planted
path."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.secret_file import write_private


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0)  # the worst case: nothing masked by the process
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("permissive_umask")
def test_the_file_is_created_0600(tmp_path: Path) -> None:
    key_file = tmp_path / "demo" / "api-key"
    write_private(key_file, "sk_secret\n")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text() == "sk_secret\n"


def test_a_planted_symlink_is_not_written_through(tmp_path: Path) -> None:
    target = tmp_path / "somewhere-readable"
    key_file = tmp_path / "api-key"
    key_file.symlink_to(target)  # dangling: Path.exists() says False
    with pytest.raises(FileExistsError):
        write_private(key_file, "sk_secret\n")
    assert not target.exists()


def test_an_existing_file_is_left_alone(tmp_path: Path) -> None:
    key_file = tmp_path / "api-key"
    key_file.write_text("theirs\n")
    with pytest.raises(FileExistsError):
        write_private(key_file, "sk_secret\n")
    assert key_file.read_text() == "theirs\n"
