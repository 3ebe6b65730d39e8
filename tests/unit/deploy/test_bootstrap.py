"""`sentinel pipeline bootstrap` republishes the rules from PostgreSQL after seeding them."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.local import pipeline_cli
from deploy.local.settings import StackSettings


def test_the_rules_are_republished_after_the_seed_rules_are_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A kept database beside a fresh cluster: `rules load` finds every seed rule there and
    # publishes nothing, so only the sync puts them on the new rules topic.
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(pipeline_cli, "_sentinel", lambda *args: calls.append(args) or "")
    monkeypatch.setattr(pipeline_cli, "StackSettings", lambda: StackSettings(dir=tmp_path))
    monkeypatch.setattr(pipeline_cli.envfile, "write", lambda _settings: None)
    monkeypatch.setattr(pipeline_cli, "_demo_analyst", lambda _settings: None)
    monkeypatch.setattr(pipeline_cli, "_announce_current", lambda _registry: None)
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "api-key").write_text("key\n")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "CURRENT").write_text("xgb-1\n")
    pipeline_cli.bootstrap()
    assert calls == [("rules", "load"), ("rules", "sync")]
