"""The feature table's changelog: the name faust gives it is the one schemas.topics declares."""

from schemas.topics import FEATURE_CHANGELOG, declared_topics, feature_changelog
from stream_agents.app import changelog_topic
from stream_agents.settings import AgentSettings


def test_the_declared_changelog_is_the_one_the_agents_write() -> None:
    settings = AgentSettings()
    assert changelog_topic(settings) == settings.kafka.topic_prefix + FEATURE_CHANGELOG.name
    assert FEATURE_CHANGELOG.partitions == settings.table_partitions
    assert feature_changelog(settings.app_id, settings.table_partitions) == FEATURE_CHANGELOG


def test_the_changelog_is_declared_with_the_prefix_and_a_compaction_that_runs() -> None:
    [spec] = [s for s in declared_topics("t.") if s.name.endswith("-changelog")]
    assert spec.name == "t.sentinel-agents-account-features-changelog"
    assert spec.config["cleanup.policy"] == "compact"
    assert int(spec.config["segment.ms"]) <= 3_600_000  # rolls: only rolled segments compact
    assert int(spec.config["segment.bytes"]) <= 64 * 1024 * 1024
    assert spec.fit_to_cluster(1).config["min.insync.replicas"] == "1"
