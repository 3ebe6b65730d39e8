"""The review queue against the real console, PostgreSQL, Redis, Kafka and reviews sink:
claims, roles, CSRF, one resolution per case, and what a resolution does to the ledger,
the webhook topic and the labels."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import psycopg
import pytest

from ledger_sink.reviews import RESOLVED_EVENT, ReviewsSettings
from ledger_sink.testing import decision, transaction
from schemas.codec import decode_label, decode_webhook_event, encode_review_resolution
from schemas.records import Decision, Outcome, ReviewResolution, TxType, webhook_event_id_for
from tests.integration.ledger_sink.support import produce, read_all
from tests.support.console import page_token, sign_in, write_ledger

pytestmark = pytest.mark.integration
RESOLUTION_ID = re.compile(r'name="resolution_id" value="([^"]+)"')


@pytest.fixture
def client(console_url: str) -> Iterator[Callable[[str], httpx.Client]]:
    """Signed-in clients, one per user name asked for."""
    opened: list[httpx.Client] = []

    def signed_in(username: str) -> httpx.Client:
        c = httpx.Client(base_url=console_url, follow_redirects=False, timeout=20)
        opened.append(c)
        assert sign_in(c, username).status_code == 303
        return c

    yield signed_in
    for c in opened:
        c.close()


def cases(api_db: str) -> tuple[Decision, Decision, Decision]:
    """A new account's first credit (REVIEW) and next debit (APPROVE), and two more
    reviews: the issue's new user, a fraud and a race."""
    account = f"acct-{uuid.uuid4().hex[:8]}"
    at = datetime.now(UTC) - timedelta(hours=2)
    credit = decision(transaction(account, "100.00", tx_type=TxType.CREDIT, at=at), Outcome.REVIEW)
    debit = decision(transaction(account, "30.25", at=at + timedelta(minutes=1)), Outcome.APPROVE)
    stolen = decision(
        transaction(f"{account}-b", "40.00", merchant_id="m-9", at=at), Outcome.REVIEW
    )
    raced = decision(transaction(f"{account}-c", "12.00", at=at), Outcome.REVIEW)
    write_ledger(api_db, [credit, debit, stolen, raced])
    return credit, stolen, raced


def post(c: httpx.Client, path: str, **form: str) -> httpx.Response:
    return c.post(path, data={"csrf_token": page_token(c), **form})


def case_form(c: httpx.Client, transaction_id: str) -> str:
    """Claim the case and return the resolution id its form carries."""
    assert post(c, f"/console/reviews/{transaction_id}/claim").status_code == 303
    page = c.get(f"/console/reviews/{transaction_id}")
    found = RESOLUTION_ID.search(page.text)
    assert found is not None, page.text
    return found.group(1)


def balance(dsn: str, account: str) -> Decimal:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT balance FROM balances WHERE account_id = %s", [account])
        return row.fetchone()[0]  # type: ignore[index]


def kinds(dsn: str, transaction_id: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT kind FROM ledger_entries WHERE transaction_id = %s ORDER BY seq",
            [transaction_id],
        ).fetchall()
    return [row[0] for row in rows]


def actions(dsn: str, actor: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT action, target FROM console_audit WHERE actor = %s AND action LIKE 'review.%%'"
            " ORDER BY audit_id",
            [actor],
        ).fetchall()
    return [(a, t) for a, t in rows]


def test_an_approved_review_moves_the_money_once_and_notifies(
    api_db: str,
    topic_prefix: str,
    reviews_sink: ReviewsSettings,
    make_user: Callable[[str], str],
    client: Callable[[str], httpx.Client],
) -> None:
    credit, stolen, _ = cases(api_db)
    ana, bob, vic = make_user("analyst"), make_user("analyst"), make_user("viewer")
    a, b, v = client(ana), client(bob), client(vic)
    assert balance(api_db, credit.account_id) == Decimal("-30.25")

    queue = v.get("/console/reviews")
    assert queue.status_code == 200
    assert credit.transaction_id in queue.text and stolen.transaction_id in queue.text
    assert "breached" in queue.text  # two hours old against the 60-minute SLA

    # A viewer reads the case but can neither claim nor resolve it.
    assert v.get(f"/console/reviews/{credit.transaction_id}").status_code == 200
    assert post(v, f"/console/reviews/{credit.transaction_id}/claim").status_code == 403
    # Resolving needs the claim; the claim is one analyst's at a time.
    early = {"resolution_id": str(uuid.uuid4()), "verdict": "approve"}
    assert post(a, f"/console/reviews/{credit.transaction_id}/resolve", **early).status_code == 409
    resolution_id = case_form(a, credit.transaction_id)
    taken = post(b, f"/console/reviews/{credit.transaction_id}/claim")
    assert taken.status_code == 409 and f"{ana} is working on this case" in taken.text
    # A form without its CSRF token is refused.
    bare = a.post(
        f"/console/reviews/{credit.transaction_id}/resolve",
        data={"resolution_id": resolution_id, "verdict": "approve"},
    )
    assert bare.status_code == 403

    form = {"resolution_id": resolution_id, "verdict": "approve", "note": "customer confirmed"}
    done = post(a, f"/console/reviews/{credit.transaction_id}/resolve", **form)
    assert done.status_code == 200, done.text
    assert "the ledger moved the money" in done.text
    again = post(a, f"/console/reviews/{credit.transaction_id}/resolve", **form)  # double click
    assert again.status_code == 200 and "Resolved" in again.text
    assert balance(api_db, credit.account_id) == Decimal("69.75")
    assert kinds(api_db, credit.transaction_id) == ["decision", "resolution"]
    assert actions(api_db, ana) == [
        ("review.claim", credit.transaction_id),
        ("review.resolve", credit.transaction_id),
    ]
    assert credit.transaction_id not in v.get("/console/reviews").text
    refused = post(b, f"/console/reviews/{credit.transaction_id}/claim")
    assert refused.status_code == 409 and f"resolved by {ana}" in refused.text

    # Confirmed fraud: nothing moves, a fraud label goes to `labels`.
    fraud_id = case_form(b, stolen.transaction_id)
    fraud = {"resolution_id": fraud_id, "verdict": "fraud", "note": "card reported stolen"}
    assert post(b, f"/console/reviews/{stolen.transaction_id}/resolve", **fraud).status_code == 200
    assert balance(api_db, stolen.account_id) == Decimal("0")
    labels = {
        x.transaction_id: x.is_fraud
        for x in (decode_label(r.value) for r in read_all(f"{topic_prefix}labels"))
    }
    assert labels == {credit.transaction_id: False, stolen.transaction_id: True}
    events = {
        e.event_id
        for e in (decode_webhook_event(r.value) for r in read_all(f"{topic_prefix}webhooks"))
    }
    assert events == {
        webhook_event_id_for(credit.decision_id, RESOLVED_EVENT),
        webhook_event_id_for(stolen.decision_id, RESOLVED_EVENT),
    }


def test_the_ledger_decides_a_race_the_second_resolution_is_refused(
    api_db: str,
    topic_prefix: str,
    reviews_sink: ReviewsSettings,
    make_user: Callable[[str], str],
    client: Callable[[str], httpx.Client],
) -> None:
    _, _, raced = cases(api_db)
    ana = make_user("analyst")
    a = client(ana)
    resolution_id = case_form(a, raced.transaction_id)
    # Another resolution reaches the topic first (a claim that lapsed, another console).
    first = ReviewResolution(
        resolution_id=str(uuid.uuid4()),
        transaction_id=raced.transaction_id,
        account_id=raced.account_id,
        decision_id=raced.decision_id,
        verdict=Outcome.DECLINE,
        confirmed_fraud=False,
        note="",
        analyst="someone-else",
        resolved_at=datetime.now(UTC),
    )
    produce(
        f"{topic_prefix}reviews", [(raced.account_id.encode(), encode_review_resolution(first))]
    )
    form = {"resolution_id": resolution_id, "verdict": "approve"}
    late = post(a, f"/console/reviews/{raced.transaction_id}/resolve", **form)
    # Refused whichever way it meets the first: already stored when the console checks, or
    # stored by the sink while the console waits for its own.
    assert late.status_code == 409, late.text
    assert re.search(r"(resolved by |Not resolved by you: )someone-else", late.text), late.text
    assert kinds(api_db, raced.transaction_id) == ["decision"]
