"""The agents' settings that are derived rather than given."""

from __future__ import annotations

import pytest

from stream_agents.settings import AgentSettings


@pytest.mark.parametrize(
    ("store", "given", "replicas"),
    [
        # memory:// re-reads a partition that comes back from offset 0: a standby is waste.
        ("memory://", None, 0),
        # rocksdb:// keeps the files of a followed partition current.
        ("rocksdb://", None, 1),
        ("memory://", 2, 2),
    ],
)
def test_standby_replicas_follow_the_store_unless_given(
    store: str, given: int | None, replicas: int
) -> None:
    settings = AgentSettings(store=store, standby_replicas=given)
    assert settings.table_standby_replicas == replicas
