"""The whole pipeline as real processes on this test module's own topics and database:
the ingest API, an agent worker, the ledger sink, the webhook dispatcher and the rules relay
(rules saved through the API reach the agents only through it).

``pipeline`` runs them all on the dev listener; ``secure_pipeline`` runs each on the stack's
SASL_SSL listener as its own principal, under the ACL table (``tests.support.security``).
Imported by tests/e2e/conftest.py (fixtures are found by name)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from schemas.records import decision_id_for, webhook_event_id_for
from tests.support.agents import SENTINEL, Workers, agent_env
from tests.support.api import headers, start_api, stop_api, stop_process
from tests.support.models import announce_model, train_tiny_model
from tests.support.receiver import LOCAL_ENV, Receiver
from tests.support.security import SecureStack, secured

SECRET = "e2e-webhook-secret-0123456789"
# The processes, by their names in `make up` (deploy/local/pipeline.py).
SERVICES = ("api", "agent-1", "sink", "webhooks", "rules-relay")
# The processes besides the API and the agent worker: (service, its `sentinel` command).
OTHERS = (
    ("sink", ("sink", "run")),
    ("webhooks", ("webhooks", "run")),
    ("rules-relay", ("rules", "relay")),
)


@dataclass
class Pipeline:
    url: str
    admin: dict[str, str]
    ingest_key: str
    prefix: str
    dsn: str
    receiver: Receiver
    work: Path


@dataclass
class SecurePipeline(Pipeline):
    stack: SecureStack


def pipeline_env(api_env: dict[str, str], topic_prefix: str, work: Path) -> dict[str, str]:
    """What every process of the pipeline runs with (a tiny model announced as champion)."""
    announce_model(topic_prefix, train_tiny_model(work / "models"))
    return {
        **agent_env(topic_prefix, work / "models", work / "agents"),
        **api_env,
        "SENTINEL_SINK_INSTANCE_ID": "e2e-sink",
        **LOCAL_ENV,
        "SENTINEL_WEBHOOKS_INSTANCE_ID": "e2e-hooks",
        "SENTINEL_WEBHOOKS_SUBSCRIPTION_CACHE_S": "0.5",
    }


@contextmanager
def running(
    env: dict[str, str],
    work: Path,
    make_key: Callable[[str], str],
    own: Mapping[str, Mapping[str, str]] | None = None,
) -> Iterator[tuple[str, dict[str, str], Receiver]]:
    """The API, one agent worker, the sink, the dispatcher and the rules relay started with
    ``env``, each
    under its own variables from ``own`` (by service name, see ``SERVICES``); yields the
    API's URL, an admin's headers and the webhook receiver (subscribed to decisions)."""

    def env_of(service: str) -> dict[str, str]:
        return {**env, **(own or {}).get(service, {})}

    with ExitStack() as stack:
        api, url = start_api(env_of("api"), work / "api.log")
        stack.callback(stop_api, api)
        admin = {"Authorization": f"Bearer {make_key('admin')}"}
        receiver = stack.enter_context(Receiver(SECRET))
        subscribed = httpx.post(
            f"{url}/v1/webhooks/subscriptions",
            headers=admin,
            json={"url": receiver.url, "event_types": ["decision.*"], "secret": SECRET},
        )
        assert subscribed.status_code == 201, subscribed.text
        workers = Workers(env_of("agent-1"), work)
        stack.callback(workers.stop_all)
        workers.start()
        for service, args in OTHERS:
            stack.callback(stop_process, _spawn(env_of(service), work, *args), 30)
        yield url, admin, receiver


@pytest.fixture(scope="module")
def pipeline(
    api_env: dict[str, str],
    api_db: str,
    topic_prefix: str,
    make_key: Callable[..., str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pipeline]:
    work = tmp_path_factory.mktemp("e2e")
    env = pipeline_env(api_env, topic_prefix, work)
    with running(env, work, make_key) as (url, admin, receiver):
        ingest = make_key("ingest,read")
        yield Pipeline(url, admin, ingest, topic_prefix, api_db, receiver, work)


@pytest.fixture(scope="module")
def secure_pipeline(
    api_env: dict[str, str],
    api_db: str,
    topic_prefix: str,
    make_key: Callable[..., str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SecurePipeline]:
    """The pipeline with every process on the SASL_SSL listener as its own principal."""
    work = tmp_path_factory.mktemp("e2e-secure")
    env = pipeline_env(api_env, topic_prefix, work)
    with secured(topic_prefix) as stack:
        own = {service: stack.service_env(service) for service in SERVICES}
        with running(env, work, make_key, own) as (url, admin, receiver):
            ingest = make_key("ingest,read")
            yield SecurePipeline(url, admin, ingest, topic_prefix, api_db, receiver, work, stack)


def eventually(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """``check``'s first truthy answer, asked every 0.25 s for up to ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"not within {timeout} s")


def ledger_decision(p: Pipeline, tid: str) -> dict[str, Any] | None:
    """The decision the API's read side has for ``tid`` (None until the ledger holds it)."""
    reader = {"Authorization": f"Bearer {p.ingest_key}"}
    response = httpx.get(f"{p.url}/v1/decisions/{tid}", headers=reader)
    return response.json() if response.status_code == 200 else None


def _spawn(env: dict[str, str], work: Path, *args: str) -> subprocess.Popen[bytes]:
    with (work / f"{args[0]}.log").open("wb") as log:
        return subprocess.Popen([SENTINEL, *args], env=env, stdout=log, stderr=subprocess.STDOUT)


EVENT_OF_OUTCOME = {
    "APPROVE": "decision.approved",
    "REVIEW": "decision.review",
    "DECLINE": "decision.declined",
}


def decided_once_and_announced(p: Pipeline, body: dict[str, Any]) -> str:
    """``body`` POSTed to the API, then: decided, in the ledger once, its webhook event
    accepted once with a good signature. Returns the event's id."""
    accepted = httpx.post(f"{p.url}/v1/transactions", json=body, headers=headers(p.ingest_key))
    assert accepted.status_code == 202, accepted.text
    tid = body["transaction_id"]
    decision = eventually(lambda: ledger_decision(p, tid))
    assert decision["decision_id"] == decision_id_for(tid)
    with psycopg.connect(p.dsn) as conn:
        entries = conn.execute(
            "SELECT count(*) FROM ledger_entries WHERE transaction_id = %s", (tid,)
        ).fetchone()
    assert entries == (1,)
    event_type = EVENT_OF_OUTCOME[decision["outcome"]]
    event_id = webhook_event_id_for(decision["decision_id"], event_type)
    eventually(lambda: p.receiver.accepted[event_id] == 1)
    assert p.receiver.bad_signatures == 0
    return event_id
