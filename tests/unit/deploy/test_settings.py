"""Stack settings: defaults that need no configuration, overrides from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.local.settings import StackSettings, host_port


def test_defaults_keep_the_stack_beside_the_checkout() -> None:
    settings = StackSettings()
    assert settings.dir.name == ".stack"
    assert (settings.dir.parent / "pyproject.toml").exists()
    assert settings.kafka_libs.name == "libs"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SENTINEL_STACK_DIR", str(tmp_path))
    monkeypatch.setenv("SENTINEL_STACK_KAFKA_HEAP", "512m")
    monkeypatch.setenv("SENTINEL_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    settings = StackSettings()
    assert settings.dir == tmp_path
    assert settings.kafka_heap == "512m"
    assert settings.kafka.bootstrap_servers == "127.0.0.1:19092"


def test_settings_are_frozen() -> None:
    settings = StackSettings()
    with pytest.raises(ValueError, match="frozen"):
        settings.kafka_heap = "2g"  # type: ignore[misc]


def test_postgres_data_is_keyed_by_stack_dir_when_running_as_root(tmp_path: Path) -> None:
    one = StackSettings(dir=tmp_path / "a").postgres_data_dir()
    two = StackSettings(dir=tmp_path / "b").postgres_data_dir()
    assert one != two
    assert StackSettings(postgres_data=tmp_path).postgres_data_dir() == tmp_path


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:9092", ("127.0.0.1", 9092)),
        ("redis://127.0.0.1:6380/0", ("127.0.0.1", 6380)),
        ("localhost", ("localhost", 1234)),
    ],
)
def test_host_port(address: str, expected: tuple[str, int]) -> None:
    assert host_port(address, 1234) == expected
