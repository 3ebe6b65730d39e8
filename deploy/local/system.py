"""Debian packages the local stack runs on, installed when missing (as root) or named clearly."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path


class StackError(RuntimeError):
    """The local stack could not be set up or started; the message says what to do."""


# command -> the Debian package that provides it
PACKAGES = {
    "java": "openjdk-17-jre-headless",
    "mvn": "maven",
    "initdb": "postgresql",
    "redis-server": "redis-server",
    # The stack's CA and the broker's certificate (deploy.local.kafka_security).
    "openssl": "openssl",
    # The console's browser tests (tests/e2e/test_console_browser.py): Playwright drives
    # Debian's Chromium, since Playwright's own browser download is unreachable here.
    # About 124 MB with --no-install-recommends.
    "chromium": "chromium",
}


def postgres_bindir() -> Path | None:
    """The newest PostgreSQL server binaries Debian installed (not on PATH by default)."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _present(command: str) -> bool:
    if command == "initdb":
        return postgres_bindir() is not None
    return shutil.which(command) is not None


def missing_packages(commands: Iterable[str] = PACKAGES) -> list[str]:
    return sorted({PACKAGES[c] for c in commands if not _present(c)})


def ensure_packages() -> list[str]:
    """Install the missing packages with apt-get; returns what was installed."""
    missing = missing_packages()
    if not missing:
        return []
    if os.geteuid() != 0:
        raise StackError(
            "missing Debian packages: " + " ".join(missing) + ". Install them as root: "
            "apt-get update && apt-get install -y " + " ".join(missing)
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
    ):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise StackError(f"{' '.join(argv)} failed:\n{done.stderr[-2000:]}")
    still = missing_packages()
    if still:
        raise StackError("apt-get ran but these are still missing: " + " ".join(still))
    return missing
