"""`sentinel stack` against the running stack, through the installed console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# serial: `stack up` again re-applies the shared broker's SCRAM credentials and ACLs, which
# the secure suites' clients are logging in with: it runs alone, after the parallel phase.
pytestmark = [pytest.mark.integration, pytest.mark.serial]

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
    done = run("stack", "up")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "already answers" in done.stdout
    assert run("stack", "status").stdout == before
