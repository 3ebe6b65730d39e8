"""`sentinel rules load` seeds rules once; `sync` republishes them to the rules topic."""

from __future__ import annotations

import subprocess

import pytest

from rule_engine import load_seed_rules
from schemas.codec import decode_rule
from schemas.topics import RULES
from tests.support.agents import read_topic
from tests.support.api import SENTINEL

pytestmark = pytest.mark.integration


def sentinel(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SENTINEL, *args],
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_seed_rules_load_once_and_sync_republishes(
    api_env: dict[str, str], topic_prefix: str
) -> None:
    seeds = load_seed_rules()
    first = sentinel(api_env, "rules", "load")
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("created") == len(seeds)
    again = sentinel(api_env, "rules", "load")
    assert again.stdout.count("exists") == len(seeds) and "created" not in again.stdout

    topic = f"{topic_prefix}{RULES.name}"
    published = [decode_rule(m.value()) for m in read_topic(topic, settle_s=0.5)]
    assert {r.name for r in published} >= {s.name for s in seeds}
    synced = sentinel(api_env, "rules", "sync")
    assert synced.returncode == 0, synced.stderr
    assert f"republished {len(seeds)} rules" in synced.stdout
    after = [decode_rule(m.value()) for m in read_topic(topic, settle_s=0.5)]
    assert len(after) >= len(published) + len(seeds)
