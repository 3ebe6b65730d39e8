"""`sentinel pipeline bootstrap` republishes the rules from PostgreSQL after seeding them, and
keeps the demo key only while the database knows it."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.local import pipeline_cli
from deploy.local.settings import StackSettings


@pytest.fixture
def stack_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stack directory with a demo key file and a current model; the env file, the demo
    analyst and the model announcement left out."""
    monkeypatch.setattr(pipeline_cli, "StackSettings", lambda: StackSettings(dir=tmp_path))
    monkeypatch.setattr(pipeline_cli.envfile, "write", lambda _settings: None)
    monkeypatch.setattr(pipeline_cli, "_demo_analyst", lambda _settings: None)
    monkeypatch.setattr(pipeline_cli, "_announce_current", lambda _registry: None)
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "api-key").write_text("key\n")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "CURRENT").write_text("xgb-1\n")
    return tmp_path


def test_the_rules_are_republished_after_the_seed_rules_are_loaded(
    stack_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A kept database beside a fresh cluster: `rules load` finds every seed rule there and
    # publishes nothing, so only the sync puts them on the new rules topic.
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(pipeline_cli, "_sentinel", lambda *args: calls.append(args) or "")
    monkeypatch.setattr(pipeline_cli, "_sentinel_status", lambda _args: 0)  # the key is known
    pipeline_cli.bootstrap()
    assert calls == [("rules", "load"), ("rules", "sync")]


def test_a_key_file_the_database_does_not_know_is_replaced_by_a_new_key(
    stack_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A database made anew beside a kept stack directory: the file's key is unknown there.
    calls: list[tuple[str, ...]] = []

    def sentinel(*args: str) -> str:
        calls.append(args)
        return "The key, shown only now:\nsk_new\n" if args[:2] == ("keys", "create") else ""

    monkeypatch.setattr(pipeline_cli, "_sentinel", sentinel)
    monkeypatch.setattr(pipeline_cli, "_sentinel_status", lambda args: int(args[1] == "check"))
    pipeline_cli.bootstrap()
    assert ("keys", "create", "--name", "demo", "--scopes", "ingest,read,admin") in calls
    key_file = stack_dir / "demo" / "api-key"
    assert key_file.read_text() == "sk_new\n"
    assert key_file.stat().st_mode & 0o777 == 0o600
