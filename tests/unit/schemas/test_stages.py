"""Stage lag arithmetic: records past the committed offsets, partitions without a commit."""

from __future__ import annotations

from schemas.stages import STAGES, StageLag, records_behind


def test_lag_adds_what_each_committed_partition_has_left() -> None:
    assert records_behind([(0, 10), (1, 4), (2, 7)], {0: 15, 1: 4, 2: 9}) == 7


def test_a_partition_without_a_commit_is_not_counted_and_none_has_none() -> None:
    assert records_behind([(0, -1001), (1, 3)], {1: 5}) == 2
    assert records_behind([(0, -1001), (1, -1001)], {}) is None
    assert records_behind([], {}) is None


def test_a_commit_past_a_stale_high_watermark_is_not_negative() -> None:
    assert records_behind([(0, 12)], {0: 10}) == 0


def test_cells_say_unknown_and_not_committed_apart() -> None:
    assert StageLag("agents", "g", "t", 42).shown == "42"
    assert StageLag("agents", "g", "t", None).shown == "-"
    assert StageLag("agents", "g", "t", None, "broker down").shown == "?"


def test_stages_are_the_services_own_groups() -> None:
    from ledger_sink.labels import LabelsSettings
    from ledger_sink.reviews import ReviewsSettings
    from ledger_sink.settings import ConsumerSettings
    from ledger_sink.webhooks.settings import WebhookSettings
    from stream_agents.settings import AgentSettings

    assert STAGES["agents"][0] == AgentSettings.model_fields["app_id"].default
    assert STAGES["ledger sink"][0] == ConsumerSettings.model_fields["group_id"].default
    assert STAGES["webhooks"][0] == WebhookSettings.model_fields["group_id"].default
    assert STAGES["webhook retries"][0] == WebhookSettings.model_fields["retry_group_id"].default
    assert STAGES["reviews sink"][0] == ReviewsSettings.model_fields["group_id"].default
    assert STAGES["labels sink"][0] == LabelsSettings.model_fields["group_id"].default
