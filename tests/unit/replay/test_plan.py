"""Parsing the replay's options and refusing live topics as its output (no services)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from decision_core.features import WINDOWS
from replay.errors import LiveTopicRefused, ReplayError
from replay.plan import (
    DEFAULT_WARMUP_MS,
    LONGEST_WINDOW_MS,
    PartitionRange,
    RuleRef,
    check_output_topic,
    format_duration,
    is_short_warmup,
    parse_duration,
    parse_instant,
    parse_offsets,
    parse_partitions,
)
from replay.runner import share, worker_count
from schemas.topics import ALL_TOPICS
from sentinel_cli.main import app


def test_offsets_parse_per_partition() -> None:
    assert parse_offsets("0:100, 1:250") == {0: 100, 1: 250}
    assert parse_offsets(None) == {} == parse_offsets("")
    for bad in ("0=100", "a:1", "1:", "-1:5"):
        with pytest.raises(ReplayError, match="PARTITION:OFFSET"):
            parse_offsets(bad)


def test_partitions_parse() -> None:
    assert parse_partitions("0,3,5") == {0, 3, 5}
    assert parse_partitions(None) is None
    with pytest.raises(ReplayError):
        parse_partitions("0,x")


def test_durations_in_units_and_the_whole_topic() -> None:
    assert parse_duration("30d5m") == DEFAULT_WARMUP_MS == 30 * 86_400_000 + 5 * 60_000
    assert parse_duration("12h") == 12 * 3_600_000
    assert parse_duration("90s") == 90_000
    assert parse_duration("0") == 0
    assert parse_duration("all") is None
    for bad in ("", "5x", "d", "1h-2m"):
        with pytest.raises(ReplayError, match="bad duration"):
            parse_duration(bad)


def test_durations_format_as_they_parse() -> None:
    for text in ("30d5m", "12h", "1m30s", "250ms", "0", "all"):
        assert format_duration(parse_duration(text)) == text


def test_a_warm_up_is_short_below_the_features_longest_window() -> None:
    assert LONGEST_WINDOW_MS == max(length for _name, length in WINDOWS) == 30 * 86_400_000
    assert is_short_warmup(0) and is_short_warmup(LONGEST_WINDOW_MS - 1)
    assert not any(map(is_short_warmup, (LONGEST_WINDOW_MS, DEFAULT_WARMUP_MS, None)))


def test_instants_are_aware_and_naive_ones_utc() -> None:
    assert parse_instant("2026-11-30T09:00") == datetime(2026, 11, 30, 9, tzinfo=UTC)
    assert parse_instant("2026-11-30T09:00+02:00") == datetime(
        2026, 11, 30, 9, tzinfo=timezone(timedelta(hours=2))
    )
    with pytest.raises(ReplayError, match="ISO 8601"):
        parse_instant("yesterday")


def test_rule_references_with_and_without_version() -> None:
    assert RuleRef.parse("r-1") == RuleRef("r-1")
    assert RuleRef.parse("r-1@3") == RuleRef("r-1", 3)
    for bad in ("r-1@0", "r-1@x", "@2"):
        with pytest.raises(ReplayError):
            RuleRef.parse(bad)


def test_a_range_keeps_warm_up_before_start_before_end() -> None:
    part = PartitionRange(0, 10, 50, 80)
    assert (part.records, part.decided) == (70, 30)
    with pytest.raises(ReplayError):
        PartitionRange(0, 60, 50, 80)
    with pytest.raises(ReplayError):
        PartitionRange(0, 0, 90, 80)


def test_every_declared_topic_is_refused_as_output_bare_and_prefixed() -> None:
    for spec in ALL_TOPICS:
        for name in (spec.name, f"env.{spec.name}"):
            with pytest.raises(LiveTopicRefused, match="live topic"):
                check_output_topic(name, "env.", "env.transactions")
    with pytest.raises(LiveTopicRefused):
        check_output_topic("my-source", "", "my-source")
    assert check_output_topic("replay.decisions", "env.", "env.transactions") == "replay.decisions"


def test_the_command_refuses_a_live_output_topic_before_reading_anything() -> None:
    # No service is reachable from a unit test: the refusal must come first.
    result = CliRunner().invoke(
        app,
        ["replay", "--to-topic", "decisions"],
        env={"SENTINEL_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "COLUMNS": "200"},
    )
    assert result.exit_code == 2
    assert "refusing to publish replayed decisions to 'decisions'" in result.output


def test_partitions_are_shared_by_record_count() -> None:
    parts = [PartitionRange(p, 0, 0, n) for p, n in enumerate([100, 10, 60, 50, 0])]
    groups = share(parts, 2)
    loads = sorted(sum(p.records for p in g) for g in groups)
    assert loads == [110, 110]
    assert sorted(p.partition for g in groups for p in g) == [0, 1, 2, 3, 4]
    assert worker_count(8, parts) == 4  # one per partition with records at most
    assert worker_count(0, parts) == 1  # a small replay stays in this process
