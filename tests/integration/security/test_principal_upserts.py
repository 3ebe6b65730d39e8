"""`stack up` on a running cluster leaves unchanged SCRAM credentials alone (writing one
again gives it a new salt, and a client logging in at that moment fails), and writes a
changed, missing or unrecorded one. Against the stack's broker, with principals of the
test's own (removed after)."""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    ScramMechanism,
    UserScramCredentialDeletion,
)

from deploy.local import kafka_security
from deploy.local.settings import StackSettings
from deploy.local.system import StackError
from schemas import kafka_edge
from schemas.connections import KafkaConnection
from tests.support.security import stack_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def admin() -> AdminClient:
    return kafka_edge.admin(KafkaConnection())  # the dev listener: ANONYMOUS is a super user


@pytest.fixture
def users(admin: AdminClient, unique: str) -> Iterator[dict[str, str]]:
    """Two principals of this test's, each with a password; deleted after."""
    made = {f"t-{unique}-a": f"pw-a-{unique}", f"t-{unique}-b": f"pw-b-{unique}"}
    yield made
    deletions = [UserScramCredentialDeletion(u, ScramMechanism.SCRAM_SHA_512) for u in made]
    futures = admin.alter_user_scram_credentials(deletions, request_timeout=10).values()
    # One a test deleted itself is gone already: its future fails, and nothing is left.
    concurrent.futures.wait(futures, timeout=10)


@pytest.fixture
def stack() -> StackSettings:
    return stack_settings()[0]


def _logs_in(stack: StackSettings, user: str, password: str) -> bool:
    """A metadata request as ``user`` (no ACL needed): True when the broker answers."""
    return kafka_security.logs_in(kafka_security.principal_connection(stack, user, password))


def _eventually(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Whether ``check`` holds within ``seconds``. The controller has committed a SCRAM
    change when the admin call returns; each broker applies it from the metadata log a
    moment later, and until then a login sees the credential before it (CI once had the
    new password refused right after its rotation)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def _password_free(record: Path, users: dict[str, str]) -> bool:
    """The record holds fingerprints, never a password, and is its owner's alone."""
    text = record.read_text()
    return all(p not in text for p in users.values()) and record.stat().st_mode & 0o077 == 0


@pytest.fixture
def record(admin: AdminClient, users: dict[str, str], tmp_path: Path) -> Path:
    """The record of ``users`` given to the brokers once: each written, none a rotation."""
    path = tmp_path / "principals.json"
    first = kafka_security.upsert_principals(admin, users, 10, path)
    assert set(first.written) == set(users) and first.rotated == ()
    return path


def test_an_unchanged_credential_is_not_written_again(
    admin: AdminClient, users: dict[str, str], stack: StackSettings, record: Path
) -> None:
    again = kafka_security.upsert_principals(admin, users, 10, record)
    assert again.written == () and again.rotated == ()
    for user, password in users.items():
        assert _eventually(partial(_logs_in, stack, user, password))
    assert _password_free(record, users)


def test_a_changed_password_is_written_and_reported_as_a_rotation(
    admin: AdminClient, users: dict[str, str], stack: StackSettings, record: Path
) -> None:
    a, b = users
    changed = {**users, a: "another-password"}

    done = kafka_security.upsert_principals(admin, changed, 10, record)
    assert done.written == (a,) and done.rotated == (a,)
    # What `stack up` does next (secure_cluster): wait until the brokers take it. After
    # that no login with it is refused; upsert_principals alone returns when the
    # controller has the change, and the brokers describe the old credential meanwhile.
    kafka_security.await_logins(stack, {a: changed[a]}, 10)
    assert _logs_in(stack, a, "another-password")
    assert _eventually(lambda: not _logs_in(stack, a, users[a]))
    assert _eventually(partial(_logs_in, stack, b, users[b]))


def test_a_credential_gone_from_the_brokers_is_written_again(
    admin: AdminClient, users: dict[str, str], stack: StackSettings, record: Path
) -> None:
    a, _ = users
    deletion = UserScramCredentialDeletion(a, ScramMechanism.SCRAM_SHA_512)
    admin.alter_user_scram_credentials([deletion], request_timeout=10)[a].result(timeout=10)
    # The controller applied the deletion; the broker that answers a describe may show it a
    # moment later (CI once saw the credential still described, so nothing was written).
    deadline = time.monotonic() + 10
    while _described(admin, a) and time.monotonic() < deadline:
        time.sleep(0.05)

    done = kafka_security.upsert_principals(admin, users, 10, record)
    assert done.written == (a,) and done.rotated == ()
    assert _eventually(partial(_logs_in, stack, a, users[a]))


def _described(admin: AdminClient, user: str) -> bool:
    """Whether the broker describes a SCRAM credential of ``user`` (not found: False)."""
    future = admin.describe_user_scram_credentials([user], request_timeout=10)[user]
    try:
        return bool(future.result(timeout=10).scram_credential_infos)
    except KafkaException:
        return False


def test_another_clusters_record_counts_for_nothing(
    admin: AdminClient, users: dict[str, str], record: Path
) -> None:
    found = json.loads(record.read_text())
    record.write_text(json.dumps({**found, "cluster_id": "a-cluster-since-purged"}))

    done = kafka_security.upsert_principals(admin, users, 10, record)
    assert set(done.written) == set(users) and done.rotated == ()
    assert json.loads(record.read_text())["cluster_id"] == found["cluster_id"]


def test_a_password_no_broker_takes_ends_the_wait_with_a_clear_error(
    users: dict[str, str], stack: StackSettings, record: Path
) -> None:
    a, _ = users
    with pytest.raises(StackError, match=f"did not take '{a}'"):
        kafka_security.await_logins(stack, {a: "not-its-password"}, 1.5)
