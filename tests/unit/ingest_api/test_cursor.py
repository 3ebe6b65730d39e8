"""History cursors: only what the API wrote decodes; anything else is a 422 (no services)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import orjson
import pytest

from ingest_api.errors import InvalidRequest
from ingest_api.readside import decode_cursor, encode_cursor


def _cursor(payload: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


@pytest.mark.parametrize("tid", ["1db7a402-9548-413b-8fc7-4076c88aa5c4", "gw/42 ü"])
def test_a_cursor_round_trips(tid: str) -> None:
    # Ids produced straight to Kafka need not have the API's shape; they page all the same.
    moment = datetime(2026, 12, 4, 10, 30, tzinfo=UTC)
    assert decode_cursor(encode_cursor(moment, tid)) == (moment, tid)


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor(["2026-12-04T10:30:00+00:00", "tx\x00-1"]),  # NUL: PostgreSQL refuses it (500)
        '["2026-12-04T10:30:00+00:00", "\\ud800"]',  # not base64 at all
        base64.urlsafe_b64encode(b'["2026-12-04T10:30:00+00:00", "\\ud800"]').decode(),
        _cursor(["2026-12-04T10:30:00", "tx-1"]),  # naive time
        _cursor(["2026-12-04T10:30:00+00:00", ["tx-1"]]),
        _cursor(["2026-12-04T10:30:00+00:00", "x" * 257]),
        _cursor(["2026-12-04T10:30:00+00:00", ""]),
        _cursor(["2026-12-04T10:30:00+00:00"]),
        "\x00" + _cursor(["2026-12-04T10:30:00+00:00", "tx-1"]),
        "%%%",
        "",
    ],
)
def test_anything_else_is_a_clean_422(cursor: str) -> None:
    with pytest.raises(InvalidRequest):
        decode_cursor(cursor)
