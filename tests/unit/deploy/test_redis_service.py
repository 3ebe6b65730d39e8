"""The local Redis takes the configured password from a private config file, never argv."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from pydantic import SecretStr

from deploy.local import redis as redis_service
from deploy.local.redis import RedisService, config_text
from deploy.local.settings import StackSettings
from deploy.local.system import StackError
from schemas.connections import RedisConnection

PASSWORD = "s3cret-Redis_pw"  # noqa: S105 - a test's own


def settings(tmp_path: Path, url: str) -> StackSettings:
    return StackSettings(dir=tmp_path, redis=RedisConnection(url=SecretStr(url)))


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("permissive_umask")
def test_the_password_goes_to_a_private_config_file_not_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spawned: list[Sequence[str]] = []
    monkeypatch.setattr(redis_service, "spawn", lambda cmd, _log: spawned.append(cmd) or 4242)
    service = RedisService(settings(tmp_path, f"redis://:{PASSWORD}@127.0.0.1:6390/0"))
    service.prepare()
    service.start()
    assert service.config_file.read_text() == f'requirepass "{PASSWORD}"\n'
    assert stat.S_IMODE(service.config_file.stat().st_mode) == 0o600
    (cmd,) = spawned
    assert cmd[:2] == ["redis-server", str(service.config_file)]
    assert not any(PASSWORD in arg for arg in cmd)


def test_a_changed_password_rewrites_the_config(tmp_path: Path) -> None:
    RedisService(settings(tmp_path, "redis://127.0.0.1:6390/0")).prepare()
    service = RedisService(settings(tmp_path, "redis://:n%2Fw@127.0.0.1:6390/0"))
    service.prepare()
    assert service.password == "n/w"  # percent-decoded, as redis-py sends it
    assert service.config_file.read_text() == 'requirepass "n/w"\n'


def test_a_password_is_quoted_as_redis_conf_reads_it() -> None:
    assert config_text('a"b\\c') == 'requirepass "a\\"b\\\\c"\n'
    assert "requirepass" not in config_text(None)


def test_an_acl_user_is_refused_with_what_to_write(tmp_path: Path) -> None:
    with pytest.raises(StackError, match=r"redis://default:PASSWORD@"):
        RedisService(settings(tmp_path, "redis://app:pw@127.0.0.1:6390/0"))
