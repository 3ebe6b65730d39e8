"""Demo traffic over HTTP: transactions posted to the ingest API at a steady rate.

The simulator produces most of the demo's traffic straight to Kafka (as a gateway with a
producer would); this sends the rest the way an HTTP gateway does, through validation,
idempotency keys and rate limits, so both ingest paths show in the live view.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

COUNTRIES = ("FR", "DE", "NL", "BE", "ES", "IT")


def transaction(rng: random.Random) -> dict[str, Any]:
    # 50,000 accounts at the demo's 20 a second: each pays every ~40 minutes, as the
    # simulated traffic's (`sentinel simulate produce`), not every 25 seconds.
    account = rng.randrange(50_000)
    home = COUNTRIES[account % len(COUNTRIES)]
    return {
        "transaction_id": str(uuid.uuid4()),
        "account_id": f"http-acct-{account:05d}",
        "card_token": f"tok_http_{account:05d}x",
        "amount": f"{rng.lognormvariate(3.5, 1.0):.2f}",
        "currency": "EUR",
        "merchant_id": f"http-m-{rng.randrange(300):03d}",
        "country": home if rng.random() > 0.03 else rng.choice(COUNTRIES),
        "channel": rng.choice(("POS", "POS", "ECOM")),
        "device_id": f"dev-{account:05d}",
        "timestamp": datetime.now(UTC).isoformat(),
        "type": "debit",
    }


def run(url: str, key: str, rate: float, seed: int = 7) -> None:
    """Post forever at ``rate`` per second; back off on 429 and 503 as a gateway should."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    interval = 1.0 / rate
    with httpx.Client(base_url=url, timeout=5) as client:
        due = time.monotonic()
        while True:
            due += interval
            answer = _post(client, key, transaction(rng))
            if answer in (429, 503, None):
                time.sleep(1.0)
                due = time.monotonic()
            time.sleep(max(0.0, due - time.monotonic()))


def _post(client: httpx.Client, key: str, body: dict[str, Any]) -> int | None:
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": body["transaction_id"]}
    try:
        return client.post("/v1/transactions", json=body, headers=headers).status_code
    except httpx.HTTPError:
        return None  # the API is (re)starting under the supervisor
