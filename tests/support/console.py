"""A real console process (`sentinel console run`) per test module, on its own database and
Redis prefix, and helpers to create users and sign in through the real form."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import redis

from ledger_sink import reviews
from ledger_sink.reviews import ReviewsSettings
from ledger_sink.testing import decision, transaction
from ledger_sink.writer import LedgerWriter
from schemas.connections import KafkaConnection, PostgresConnection, RedisConnection
from schemas.records import Decision, Outcome
from tests.support.api import SENTINEL, stop_api
from tests.support.loops import loop_thread
from tests.support.ports import free_port

if TYPE_CHECKING:
    from schemas.records import Decision

PASSWORD = "a long test password"  # noqa: S105 - the tests' own users
USER_FAILURES = 3
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def console_env(api_db: str, module_id: str, topic_prefix: str) -> dict[str, str]:
    import os

    return {
        **os.environ,
        "SENTINEL_POSTGRES_DSN": api_db,
        # The rules pages publish to the module's own topics (tests.support.api.topic_prefix).
        "SENTINEL_KAFKA_TOPIC_PREFIX": topic_prefix,
        # The reviews sink of a test applies a resolution in well under a second.
        "SENTINEL_CONSOLE_RESOLVE_WAIT_S": "10",
        # The Overview's stream pushes every second: its tests see updates within one.
        "SENTINEL_CONSOLE_OVERVIEW_PUSH_S": "1",
        "SENTINEL_CONSOLE_REDIS_PREFIX": f"test-console-{module_id}",
        "SENTINEL_CONSOLE_LOCKOUT_USER_FAILURES": str(USER_FAILURES),
        # Every request comes from 127.0.0.1: the per-address count is the unit tests'.
        "SENTINEL_CONSOLE_LOCKOUT_ADDRESS_FAILURES": "1000000",
    }


@pytest.fixture(scope="module")
def console_url(
    console_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    log = tmp_path_factory.mktemp("console") / "console.log"
    proc, url = start_console((SENTINEL, "console", "run"), console_env, log)
    yield url
    stop_api(proc)
    client = redis.Redis.from_url(RedisConnection().url.get_secret_value())
    # Sessions under the prefix; the lock-out counters inside the limits library's own keys.
    for key in client.scan_iter(f"*{console_env['SENTINEL_CONSOLE_REDIS_PREFIX']}:*"):
        client.delete(key)


def start_console(
    argv: Sequence[str], env: dict[str, str], log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """``argv`` (a console command) on a free port, once it answers: (process, base URL)."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own console script
            list(argv), env={**env, "SENTINEL_CONSOLE_PORT": str(port)}, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    _wait_ready(proc, url, log)
    return proc, url


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the console exited with {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/console/signin", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"the console never became ready: {log.read_text()[-3000:]}")


def run_users(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SENTINEL, "users", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def make_user(console_env: dict[str, str]) -> Callable[[str], str]:
    """Create a user with ``role`` through the CLI's own command (password on stdin), run in
    this process: a `sentinel` subprocess per user cost 3-12 s of interpreter start, most of
    the console suites' time. The subprocess path has its own test (``run_users``)."""
    from typer.testing import CliRunner

    from sentinel_cli.main import app

    def make(role: str) -> str:
        name = f"t-{role}-{uuid.uuid4().hex[:8]}"
        done = CliRunner().invoke(
            app, ["users", "create", name, "--role", role], input=PASSWORD + "\n", env=console_env
        )
        assert done.exit_code == 0, done.output
        return name

    return make


def signin_token(client: httpx.Client) -> str:
    page = client.get("/console/signin")
    assert page.status_code == 200
    found = TOKEN.search(page.text)
    assert found is not None
    return found.group(1)


def sign_in(client: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    token = signin_token(client)
    return client.post(
        "/console/signin",
        data={"username": username, "password": password, "csrf_token": token},
    )


def page_token(client: httpx.Client, path: str = "/console/") -> str:
    """The session's CSRF token, as a signed-in page carries it."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = TOKEN.search(page.text)
    assert found is not None
    return found.group(1)


def write_decisions(dsn: str, outcomes: dict[str, int]) -> list[Decision]:
    """Decisions through the real ledger writer (ledger, star schema), their transactions
    two minutes old: inside the Overview's window of complete minutes."""
    at = datetime.now(UTC) - timedelta(minutes=2)
    made = [
        decision(transaction(f"acct-{uuid.uuid4().hex[:8]}", at=at), Outcome(outcome))
        for outcome, count in outcomes.items()
        for _ in range(count)
    ]
    write_ledger(dsn, made)
    return made


def write_ledger(dsn: str, made: list[Decision]) -> None:
    """`made` through the real ledger writer, every one new."""
    writer = LedgerWriter(dsn)
    try:
        assert writer.write(made).written == len(made)
    finally:
        writer.close()


def write_account(
    dsn: str, account_id: str, outcomes: list[str], *, start: datetime | None = None
) -> list[Decision]:
    """Decisions of one account through the real ledger writer, one a minute from `start`
    (oldest first, so its chain's seq follows the list); the first fires a rule and carries
    reason codes."""
    from dataclasses import replace

    from schemas.records import ReasonCode, RuleHit

    at = start or datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    made = []
    for n, outcome in enumerate(outcomes):
        tx = transaction(
            account_id, f"{n + 1}.25", merchant_id=f"m-{n}", at=at + timedelta(minutes=n)
        )
        made.append(decision(tx, Outcome(outcome), risk_score=0.05 + n / 1000))
    made[0] = replace(
        made[0],
        rules_fired=(RuleHit(rule_id="big-abroad", version=3, action="REVIEW"),),
        reason_codes=(ReasonCode(feature="amount_zscore", value=4.2, contribution=0.31),),
    )
    write_ledger(dsn, made)
    return made


@pytest.fixture(scope="module")
def reviews_sink(api_db: str, topic_prefix: str) -> Iterator[ReviewsSettings]:
    """`sentinel reviews sink`'s loop on the console's database and topics, for the module."""
    settings = ReviewsSettings(
        group_id="reviews-sink",
        poll_timeout_s=0.1,
        kafka=KafkaConnection(topic_prefix=topic_prefix),
        postgres=PostgresConnection(dsn=api_db),
    )
    with loop_thread(reviews.run, settings, "reviews sink"):
        yield settings


def sse_events(response: httpx.Response) -> Iterator[tuple[str | None, str]]:
    """(event name, data) of each event of a text/event-stream response, as EventSource
    reassembles them (comments and retry lines skipped)."""
    name: str | None = None
    data: list[str] = []
    for line in response.iter_lines():
        if line == "":
            if name is not None or data:
                yield name, "\n".join(data)
            name, data = None, []
        elif line.startswith("event:"):
            name = line.removeprefix("event:").removeprefix(" ")
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").removeprefix(" "))


def next_event(events: Iterator[tuple[str | None, str]], name: str) -> str:
    """The data of the next event called ``name`` (others before it are skipped)."""
    for found, data in events:
        if found == name:
            return data
    raise AssertionError(f"the stream ended before a {name!r} event")
