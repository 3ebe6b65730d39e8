"""A dry run over many ledger rows: bounded in time, and the API keeps answering meanwhile."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import psycopg
import pytest

from tests.support.api import (  # noqa: F401 - fixtures are found by name
    api_db,
    make_key,
    module_id,
    start_api,
    stop_api,
    topic_prefix,
)
from tests.support.api import api_env as base_env

pytestmark = pytest.mark.integration
BUDGET_S = 1.5
ROWS = 20_000


@pytest.fixture(scope="module")
def api_url(
    api_db: str,  # noqa: F811
    topic_prefix: str,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    env = {
        **base_env.__wrapped__(api_db, topic_prefix),  # type: ignore[attr-defined]
        "SENTINEL_API_RULES_DRY_RUN_BUDGET_S": str(BUDGET_S),
    }
    proc, url = start_api(env, tmp_path_factory.mktemp("api") / "api.log")
    yield url
    stop_api(proc)


def seed_ledger(dsn: str, merchant: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        account = "INSERT INTO accounts (account_id, home_country) VALUES (%s, 'FR')"
        conn.execute(account, (merchant,))
        conn.execute(
            "INSERT INTO transactions (transaction_id, account_id, card_token, amount, currency,"
            " merchant_id, country, channel, event_ts, type)"
            " SELECT gen_random_uuid(), %s, 'tok_abcdefgh', 10 + n, 'EUR', %s, 'FR',"
            " 'ECOM', now(), 'debit' FROM generate_series(1, %s) AS n",
            (merchant, merchant, ROWS),
        )
        conn.execute(
            "INSERT INTO decisions (decision_id, transaction_id, account_id, outcome,"
            " risk_score, features, ingested_at, decided_at)"
            " SELECT gen_random_uuid(), transaction_id, account_id, 'APPROVE', 0.1, '{}',"
            " now(), now() FROM transactions WHERE merchant_id = %s",
            (merchant,),
        )


def test_a_dry_run_is_bounded_and_never_blocks_the_api(
    api_url: str,
    api_db: str,  # noqa: F811
    make_key: Callable[..., str],  # noqa: F811
) -> None:
    merchant = f"dry-{uuid.uuid4().hex[:6]}"
    seed_ledger(api_db, merchant)
    admin = {"Authorization": f"Bearer {make_key('admin')}"}
    # Within the cost budget, yet ~0.2 ms per row: 20,000 rows take longer than the budget.
    members = ",".join(str(n) for n in range(500))
    body = {"expression": f"[{members}].exists(v, v == -1) || amount > 100", "limit": ROWS}
    latencies: list[float] = []
    done = threading.Event()

    def probe() -> None:
        with httpx.Client(base_url=api_url, timeout=30) as client:
            while not done.is_set():
                started = time.perf_counter()
                assert client.get("/healthz").status_code == 200
                latencies.append(time.perf_counter() - started)
                time.sleep(0.02)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        started = time.perf_counter()
        response = httpx.post(f"{api_url}/v1/rules/dry-run", headers=admin, json=body, timeout=60)
        took = time.perf_counter() - started
    finally:
        done.set()
        prober.join()
    assert response.status_code == 200, response.text
    # The event loop kept answering while the rows were evaluated (on it, one probe would
    # have waited the whole evaluation).
    assert len(latencies) > 10 and max(latencies) < 1.0
    report = response.json()
    assert report["rows"] == ROWS and 0 < report["evaluated"] < ROWS
    assert report["complete"] is False
    assert report["hits"] == report["evaluated"] - min(report["evaluated"], 90)
    assert took < BUDGET_S + 10  # the budget, plus reading the rows
