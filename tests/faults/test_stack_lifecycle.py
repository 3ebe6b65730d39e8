"""A second, private stack on free ports: cold start, SIGKILL of the broker, restart, down.

It runs beside the shared stack the other suites use, so killing its processes disturbs
no other test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from deploy.local import stack
from deploy.local.credentials import new_password
from deploy.local.settings import StackSettings
from deploy.topics import TopicAdmin
from schemas.topics import TopicSpec
from tests.support.ports import free_port_block
from tests.support.private_kafka import QUICK_JVM

pytestmark = [pytest.mark.faults, pytest.mark.slow]

SENTINEL = str(Path(sys.executable).with_name("sentinel"))


@pytest.fixture
def private_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    base = free_port_block(5)
    kafka, controller, sasl_ssl, pg, redis_port = range(base, base + 5)
    env = {
        "SENTINEL_STACK_DIR": str(tmp_path / "stack"),
        "SENTINEL_STACK_KAFKA_CONTROLLER_PORT": str(controller),
        "SENTINEL_STACK_KAFKA_SASL_SSL_PORT": str(sasl_ssl),
        "SENTINEL_STACK_KAFKA_HEAP": "384m",
        "SENTINEL_STACK_KAFKA_JVM_OPTIONS": QUICK_JVM,
        "SENTINEL_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka}",
        # Passwords of its own, as `stack up` generates them for a checkout's stack.
        "SENTINEL_POSTGRES_DSN": f"postgresql://sentinel:{new_password()}@127.0.0.1:{pg}/sentinel",
        "SENTINEL_POSTGRES_ADMIN_DSN": (
            f"postgresql://postgres:{new_password()}@127.0.0.1:{pg}/postgres"
        ),
        "SENTINEL_REDIS_URL": f"redis://:{new_password()}@127.0.0.1:{redis_port}/0",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    try:
        yield env
    finally:
        sentinel("stack", "down", "--purge")


def sentinel(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SENTINEL, *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env=os.environ.copy(),
    )


def test_cold_start_survives_a_killed_broker_and_down_leaves_nothing(
    private_stack: dict[str, str],
) -> None:
    done = sentinel("stack", "up")
    assert done.returncode == 0, done.stdout + done.stderr
    settings = StackSettings()
    assert all(row.answers for row in stack.status(settings))

    admin = TopicAdmin(settings.kafka)
    admin.create([TopicSpec("survivor", 3, "kept across a broker kill", replication_factor=1)])
    kafka_pid = stack.services(settings)[2].pid()
    assert kafka_pid is not None
    os.kill(kafka_pid, signal.SIGKILL)
    if psutil.pid_exists(kafka_pid):
        psutil.Process(kafka_pid).wait(timeout=10)

    assert sentinel("stack", "status").returncode == 1
    done = sentinel("stack", "up")
    assert done.returncode == 0, done.stdout + done.stderr
    assert admin.observe(["survivor"])["survivor"].partitions == 3

    pids = [row.pid for row in stack.status(settings)]
    assert all(pid is not None for pid in pids)
    done = sentinel("stack", "down")
    assert done.returncode == 0, done.stdout + done.stderr
    still = [
        pid
        for pid in pids
        if pid is not None
        and psutil.pid_exists(pid)
        and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ]
    assert still == []
    assert not any(row.answers for row in stack.status(settings))
