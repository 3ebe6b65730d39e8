"""The agents' settings that are derived rather than given, and where faust gets them."""

from __future__ import annotations

from typing import Any, cast

import pytest
from pydantic import ValidationError

from stream_agents.app import create_app
from stream_agents.settings import AgentSettings
from stream_agents.worker import transaction_claims


@pytest.mark.parametrize(
    ("store", "given", "replicas"),
    [
        # memory:// re-reads a partition that comes back from offset 0: a standby is waste.
        ("memory://", None, 0),
        # rocksdb:// keeps the files of a followed partition current; two, so that a dead
        # worker's partitions each go to a survivor that followed them (test_standby_placement).
        ("rocksdb://", None, 2),
        ("memory://", 2, 2),
    ],
)
def test_standby_replicas_follow_the_store_unless_given(
    store: str, given: int | None, replicas: int
) -> None:
    settings = AgentSettings(store=store, standby_replicas=given)
    assert settings.table_standby_replicas == replicas


def test_failover_settings_reach_fausts_consumer() -> None:
    settings = AgentSettings(instance_id="worker-1")
    app = create_app(settings, cast(Any, None), 1, cast(Any, None))
    assert app.conf.consumer_group_instance_id == "worker-1"
    assert app.conf.broker_session_timeout == settings.session_timeout_s == 6.0
    assert app.conf.broker_heartbeat_interval == settings.heartbeat_interval_s == 1.0
    # Unset: dynamic membership, as before.
    dynamic = create_app(AgentSettings(), cast(Any, None), 1, cast(Any, None))
    assert dynamic.conf.consumer_group_instance_id is None


def test_heartbeats_fit_a_few_times_in_the_session() -> None:
    with pytest.raises(ValidationError, match="a third"):
        AgentSettings(session_timeout_s=6.0, heartbeat_interval_s=3.0)
    assert AgentSettings(session_timeout_s=10.0, heartbeat_interval_s=3.0).session_timeout_s == 10


def test_exactly_once_is_refused_not_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """faust's exactly_once was removed (docs/adr/0002): a deployment that still names it
    must fail at start, not silently run at-least-once."""
    monkeypatch.setenv("SENTINEL_AGENTS_PROCESSING_GUARANTEE", "exactly_once")
    with pytest.raises(ValidationError, match="at_least_once"):
        AgentSettings()


def test_the_claims_window_is_the_apis_unless_the_agents_own_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SENTINEL_API_TRANSACTION_ID_WINDOW_S", "SENTINEL_AGENTS_TRANSACTION_ID_WINDOW_S"):
        monkeypatch.delenv(name, raising=False)
    assert AgentSettings().transaction_id_window_s == 900
    monkeypatch.setenv("SENTINEL_API_TRANSACTION_ID_WINDOW_S", "3600")
    assert AgentSettings().transaction_id_window_s == 3600
    monkeypatch.setenv("SENTINEL_AGENTS_TRANSACTION_ID_WINDOW_S", "0")
    assert AgentSettings().transaction_id_window_s == 0
    assert transaction_claims(AgentSettings()) is None  # 0: no claims at all
    assert AgentSettings(transaction_id_window_s=60).transaction_id_window_s == 60
