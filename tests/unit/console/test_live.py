"""The Overview's live parts without services: the chart's series, the events' framing, the
reasons shown for a DECLINE, and the lag shown before Kafka answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from fastapi.sse import format_sse_event

from console import live
from console.activity import Decline, MinuteRow
from console.lag import unknown
from console.overview import Window

NOW = datetime(2026, 12, 5, 23, 58, 31, tzinfo=UTC)


def wire(event: object) -> str:
    """An event as FastAPI's EventSourceResponse writes it for a raw_data event."""
    assert isinstance(event, live.ServerSentEvent)
    return format_sse_event(
        data_str=event.raw_data, event=event.event, id=event.id, retry=event.retry,
        comment=event.comment,
    ).decode()  # fmt: skip


def parse(text: str) -> tuple[str | None, str]:
    """(event name, data) as a browser's EventSource reassembles one event."""
    assert text.endswith("\n\n")
    name, data = None, []
    for line in text[:-2].split("\n"):
        field, _, value = line.partition(": ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    return name, "\n".join(data)


def test_the_chart_has_every_minute_of_its_window_across_midnight() -> None:
    window = Window.last_minutes(datetime(2026, 12, 6, 0, 2, 10, tzinfo=UTC), 15)
    rows = [MinuteRow(20261205, 1439, 120, 48.0), MinuteRow(20261206, 1, 30, None)]
    chart = live.chart_series(window, rows)
    assert len(chart.x) == 15
    assert chart.x[0] == int(datetime(2026, 12, 5, 23, 47, tzinfo=UTC).timestamp())
    assert chart.x[1:] == [chart.x[0] + 60 * n for n in range(1, 15)]
    assert chart.rate[12] == 2.0 and chart.p99[12] == 48.0  # 23:59
    assert chart.rate[13] == 0.0 and chart.p99[13] is None  # 00:00: none, a gap
    assert chart.rate[14] == 0.5 and chart.p99[14] is None  # 00:01: count without latency
    assert sum(chart.rate) == 2.5


def test_the_chart_event_is_one_line_of_json() -> None:
    window = Window.last_minutes(NOW, 15)
    chart = live.chart_series(window, [MinuteRow(20261205, 1437, 90, 12.25)])
    name, data = parse(wire(live.chart_event(chart)))
    assert name == "chart"
    decoded = json.loads(data)
    assert decoded["x"] == chart.x and decoded["rate"][-1] == 1.5 and decoded["p99"][-1] == 12.2


def test_a_fragment_of_many_lines_comes_back_whole() -> None:
    html = '<p class="window">a</p>\n<dl>\r\n  <dd id="total">12</dd>\n</dl>\n'
    text = wire(live.figures_event(html))
    assert text.startswith("event: figures\ndata: <p")
    assert "\r" not in text and "\n\n" not in text[:-2]  # no blank line inside the event
    name, data = parse(text)
    assert name == "figures"
    assert data == html.replace("\r\n", "\n")


def test_the_stream_opens_with_its_retry_and_ends_with_a_reason() -> None:
    assert wire(live.opening(2.5)) == ": overview\nretry: 2500\n\n"
    assert parse(wire(live.end_event("the session has ended"))) == (
        "end",
        "the session has ended",
    )


def test_a_declines_reasons_read_as_features_with_their_contribution() -> None:
    decline = Decline(
        "t-1", "a-1", NOW, Decimal("950.00"), "EUR", 0.97,
        [{"feature": "amount_zscore", "value": 4.2, "contribution": 0.31},
         {"feature": "new_country", "value": 1, "contribution": -0.05}],
        ["Big abroad"],
    )  # fmt: skip
    assert decline.reasons == ["amount_zscore (+0.31)", "new_country (-0.05)"]


def test_before_kafka_answers_every_stage_is_unknown() -> None:
    stages = unknown("p-", "not read yet")
    assert [s.shown for s in stages] == ["?"] * len(stages)
    assert stages[0].group == "p-sentinel-agents" and stages[0].topic == "p-transactions"
