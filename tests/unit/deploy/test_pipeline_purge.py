"""`sentinel stack down --purge` deletes what the demo made from the purged data, only that."""

from __future__ import annotations

from pathlib import Path

from deploy.local import pipeline
from deploy.local.settings import StackSettings


def test_the_agents_stores_and_the_demo_key_go_the_models_and_analyst_stay(
    tmp_path: Path,
) -> None:
    settings = StackSettings(dir=tmp_path)
    store = settings.agents_data / "1" / "worker-0" / "tables"
    store.mkdir(parents=True)
    (store / "000001.sst").write_bytes(b"rocksdb")
    settings.demo_api_key.parent.mkdir(parents=True)
    settings.demo_api_key.write_text("sk_demo\n")
    analyst = settings.dir / "demo" / "console-analyst"
    analyst.write_text("password\n")
    current = settings.dir / "models" / "CURRENT"
    current.parent.mkdir()
    current.write_text("xgb-1\n")

    assert pipeline.purge(settings) == [settings.agents_data, settings.demo_api_key]
    assert not settings.agents_data.exists() and not settings.demo_api_key.exists()
    assert analyst.read_text() == "password\n" and current.read_text() == "xgb-1\n"
    assert pipeline.purge(settings) == []  # nothing left to delete: not an error


def test_a_key_file_that_is_a_dangling_symlink_goes_too(tmp_path: Path) -> None:
    # bootstrap takes any key file there, a symlink included, as the demo key.
    settings = StackSettings(dir=tmp_path)
    settings.demo_api_key.parent.mkdir(parents=True)
    settings.demo_api_key.symlink_to(tmp_path / "gone")
    assert pipeline.purge(settings) == [settings.demo_api_key]
    assert not settings.demo_api_key.is_symlink()
