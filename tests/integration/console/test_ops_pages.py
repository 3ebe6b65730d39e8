"""The dead letters and webhooks pages against the real broker, PostgreSQL and Redis: a
console process on this module's own topic prefix and database lists, shows and re-drives
letters written onto its own dead-letter topic (the re-drive is the dlq library's: the record
and its mark, once), and shows its subscriptions beside their dead-lettered deliveries."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import psycopg
import pytest

from console import dead_letters
from console.dead_letters import topics_of
from dlq import kafka
from dlq.letters import HEADER_REDRIVE_OF
from schemas.connections import KafkaConnection
from tests.support.console import page_token, sign_in
from tests.support.dead_letters import PAN, SOURCE_PARTITION, write_letters, write_webhook_letter

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def console_env(console_env: dict[str, str], topic_prefix: str) -> dict[str, str]:
    return {**console_env, "SENTINEL_KAFKA_TOPIC_PREFIX": topic_prefix}


@pytest.fixture
def signed_in(
    console_url: str, make_user: Callable[[str], str]
) -> Iterator[Callable[[str], httpx.Client]]:
    clients: list[httpx.Client] = []

    def client(role: str) -> httpx.Client:
        c = httpx.Client(base_url=console_url, follow_redirects=False, timeout=60)
        clients.append(c)
        assert sign_in(c, make_user(role)).status_code == 303
        return c

    yield client
    for c in clients:
        c.close()


def test_a_viewer_lists_and_opens_letters_but_may_not_redrive(
    signed_in: Callable[[str], httpx.Client], topic_prefix: str
) -> None:
    (first, tx), (second, _) = write_letters(
        topic_prefix, ["invalid_transaction", "unknown_schema_id"], pan=True
    )
    viewer = signed_in("viewer")
    listed = viewer.get("/console/dead-letters")
    assert listed.status_code == 200
    assert f"/console/dead-letters/dead-letter/{first}" in listed.text
    assert f"/console/dead-letters/dead-letter/{second}" in listed.text
    assert listed.text.index(str(second)) < listed.text.index(str(first))  # newest first
    assert PAN not in listed.text and "************1111" in listed.text

    shown = viewer.get(f"/console/dead-letters/dead-letter/{first}")
    assert shown.status_code == 200
    assert "invalid_transaction" in shown.text
    assert f"{topic_prefix}transactions partition {SOURCE_PARTITION}, offset 100" in shown.text
    assert tx.transaction_id in shown.text  # the decoded record, and its header
    assert "transaction v" in shown.text and PAN not in shown.text
    assert "Re-drive</button>" not in shown.text

    token = page_token(viewer, "/console/dead-letters")
    refused = viewer.post(
        f"/console/dead-letters/dead-letter/{first}/redrive", data={"csrf_token": token}
    )
    assert refused.status_code == 403


def test_an_analyst_redrives_a_letter_once_and_it_is_audited(
    signed_in: Callable[[str], httpx.Client], topic_prefix: str, api_db: str
) -> None:
    ((letter_id, tx),) = write_letters(topic_prefix, ["unknown_schema_id"])
    analyst = signed_in("analyst")
    path = f"/console/dead-letters/dead-letter/{letter_id}"
    assert analyst.post(f"{path}/redrive").status_code == 403  # no CSRF token
    token = page_token(analyst, path)

    done = analyst.post(f"{path}/redrive", data={"csrf_token": token})
    assert done.status_code == 200, done.text
    assert f"re-driven to {topic_prefix}transactions partition {SOURCE_PARTITION}" in done.text
    assert '<dd id="redriven">yes</dd>' in done.text
    assert "Re-drive</button>" not in done.text
    again = analyst.post(f"{path}/redrive", data={"csrf_token": token})
    assert "it was re-driven before" in again.text

    conn = KafkaConnection(topic_prefix=topic_prefix)
    produced = [
        record
        for record in kafka.read_all(conn, f"{topic_prefix}transactions")
        if dict(record.headers).get(HEADER_REDRIVE_OF) == f"dead-letter/{letter_id}".encode()
    ]
    assert [r.partition for r in produced] == [SOURCE_PARTITION]  # once, to its partition
    assert produced[0].key == tx.account_id.encode()
    marks = kafka.read_all(conn, f"{topic_prefix}dead-letter.redrives")
    assert any(b'"by":"console:t-analyst-' in (m.value or b"") for m in marks)
    with psycopg.connect(api_db) as db:
        rows = db.execute(
            "SELECT detail->>'result' FROM console_audit"
            " WHERE action = 'dead_letter.redrive' AND target = %s ORDER BY audit_id",
            (f"dead-letter/{letter_id}",),
        ).fetchall()
    assert [r[0] for r in rows] == ["redriven", "already"]


def test_a_letter_whose_card_number_was_masked_is_not_redriven(
    signed_in: Callable[[str], httpx.Client], topic_prefix: str
) -> None:
    ((letter_id, _tx),) = write_letters(topic_prefix, ["invalid_transaction"], pan=True)
    analyst = signed_in("analyst")
    path = f"/console/dead-letters/dead-letter/{letter_id}"
    token = page_token(analyst, path)
    done = analyst.post(f"{path}/redrive", data={"csrf_token": token})
    assert "not re-driven: it held a card number" in done.text
    assert '<dd id="redriven">no</dd>' in done.text


def test_unknown_topics_and_ids_are_404s(signed_in: Callable[[str], httpx.Client]) -> None:
    viewer = signed_in("viewer")
    assert viewer.get("/console/dead-letters?topic=transactions").status_code == 404
    assert viewer.get("/console/dead-letters/decisions/0:1").status_code == 404
    assert viewer.get("/console/dead-letters/dead-letter/zero").status_code == 404
    assert viewer.get("/console/dead-letters/dead-letter/0:999999").status_code == 404
    assert viewer.get("/console/dead-letters?topic=webhooks.dead-letter").status_code == 200


async def test_a_list_reads_only_the_newest_records_of_each_partition(topic_prefix: str) -> None:
    write_letters(topic_prefix, ["a", "b", "c"])
    conn = KafkaConnection(topic_prefix=topic_prefix)
    newest = await dead_letters.recent(conn, topics_of("dead-letter", conn), last=2)
    assert [letter.letter.error_code for letter in newest.letters] == ["b", "c"]


def test_the_webhooks_page_shows_subscriptions_and_their_dead_letters_never_secrets(
    signed_in: Callable[[str], httpx.Client], topic_prefix: str, api_db: str
) -> None:
    secret = "whsec_" + "s3cret" * 6  # noqa: S105 - the test's own subscription
    with psycopg.connect(api_db) as db:
        row = db.execute(
            "INSERT INTO webhook_subscriptions (url, secret, event_types, active)"
            " VALUES (%s, %s, %s, false) RETURNING subscription_id::text",
            ("https://bob:pw@hooks.example.com/in?token=t0k", secret, ["decision.*"]),
        ).fetchone()
    assert row is not None
    write_webhook_letter(topic_prefix, row[0], "8 attempts; the last: HTTP 503")
    page = signed_in("viewer").get("/console/webhooks")
    assert page.status_code == 200
    assert "https://***@hooks.example.com/in?…" in page.text
    assert secret not in page.text and "t0k" not in page.text and "bob:pw" not in page.text
    section = page.text[page.text.index(f'id="sub-{row[0]}"') :]
    assert "decision.*" in section and "<td>no</td>" in section
    assert ">1</a>" in section and "HTTP 503" in section
