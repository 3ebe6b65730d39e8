"""`sentinel stack` against the running stack, through the installed console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from deploy.local import kafka_security
from deploy.local.settings import StackSettings

# Beside the secure suites, whose clients log in as the stack's principals: `stack up`
# again must leave their SCRAM credentials alone (deploy.local.kafka_security).
pytestmark = pytest.mark.integration

SENTINEL = str(Path(sys.executable).with_name("sentinel"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SENTINEL, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_status_reports_every_service_answering() -> None:
    done = run("stack", "status")
    assert done.returncode == 0, done.stdout + done.stderr
    for service in ("kafka", "postgres", "redis"):
        line = next(line for line in done.stdout.splitlines() if f" {service} " in line)
        assert " yes " in line


def test_up_again_is_harmless() -> None:
    before = run("stack", "status").stdout
    record = kafka_security.principals_record(StackSettings())
    applied = record.stat().st_mtime_ns
    done = run("stack", "up")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "already answers" in done.stdout
    assert "SCRAM" not in done.stdout
    assert record.stat().st_mtime_ns == applied  # no credential written again
    assert run("stack", "status").stdout == before
