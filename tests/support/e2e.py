"""The whole pipeline as real processes on this test module's own topics and database:
the ingest API, an agent worker, the ledger sink, the webhook dispatcher and the rules relay
(rules saved through the API reach the agents only through it).

Imported by tests/e2e/conftest.py (fixtures are found by name)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.agents import SENTINEL, Workers, agent_env
from tests.support.api import start_api, stop_api
from tests.support.models import announce_model, train_tiny_model
from tests.support.receiver import LOCAL_ENV, Receiver

SECRET = "e2e-webhook-secret-0123456789"


@dataclass
class Pipeline:
    url: str
    admin: dict[str, str]
    ingest_key: str
    prefix: str
    dsn: str
    receiver: Receiver


@pytest.fixture(scope="module")
def pipeline(
    api_env: dict[str, str],
    api_db: str,
    topic_prefix: str,
    make_key: object,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pipeline]:
    work = tmp_path_factory.mktemp("e2e")
    announce_model(topic_prefix, train_tiny_model(work / "models"))
    env = {
        **agent_env(topic_prefix, work / "models", work / "agents"),
        **api_env,
        "SENTINEL_SINK_INSTANCE_ID": "e2e-sink",
        **LOCAL_ENV,
        "SENTINEL_WEBHOOKS_INSTANCE_ID": "e2e-hooks",
        "SENTINEL_WEBHOOKS_SUBSCRIPTION_CACHE_S": "0.5",
    }
    api, url = start_api(env, work / "api.log")
    admin = {"Authorization": f"Bearer {make_key('admin')}"}  # type: ignore[operator]
    receiver = Receiver(SECRET).__enter__()
    subscribed = httpx.post(
        f"{url}/v1/webhooks/subscriptions",
        headers=admin,
        json={"url": receiver.url, "event_types": ["decision.*"], "secret": SECRET},
    )
    assert subscribed.status_code == 201, subscribed.text
    workers = Workers(env, work)
    workers.start()
    others = [
        _spawn(env, work, "sink", "run"),
        _spawn(env, work, "webhooks", "run"),
        _spawn(env, work, "rules", "relay"),
    ]
    try:
        yield Pipeline(
            url,
            admin,
            make_key("ingest,read"),
            topic_prefix,
            api_db,  # type: ignore[operator]
            receiver,
        )
    finally:
        for proc in others:
            proc.terminate()
        for proc in others:
            proc.wait(30)
        workers.stop_all()
        stop_api(api)
        receiver.__exit__()


def _spawn(env: dict[str, str], work: Path, *args: str) -> subprocess.Popen[bytes]:
    with (work / f"{args[0]}.log").open("wb") as log:
        return subprocess.Popen([SENTINEL, *args], env=env, stdout=log, stderr=subprocess.STDOUT)
