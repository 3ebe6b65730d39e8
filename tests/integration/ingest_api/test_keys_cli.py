"""`sentinel keys create|list|revoke` against the database a running API reads."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.api import SENTINEL, headers, transaction

pytestmark = pytest.mark.integration


def sentinel(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SENTINEL, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_created_key_works_until_revoked(api_env: dict[str, str], api_url: str) -> None:
    created = sentinel(api_env, "keys", "create", "--name", "gateway-7", "--scopes", "ingest")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.split()[-1]
    key_id = created.stdout.split()[2].rstrip(",")
    assert secret.startswith("sk_")

    listed = sentinel({**api_env, "COLUMNS": "200"}, "keys", "list")
    assert key_id in listed.stdout and secret not in listed.stdout
    ok = httpx.post(f"{api_url}/v1/transactions", json=transaction(), headers=headers(secret))
    assert ok.status_code == 202

    assert sentinel(api_env, "keys", "revoke", key_id).returncode == 0
    refused = httpx.post(f"{api_url}/v1/transactions", json=transaction(), headers=headers(secret))
    assert refused.status_code == 401
    assert sentinel(api_env, "keys", "revoke", key_id).returncode == 1


def test_unknown_scope_is_refused(api_env: dict[str, str]) -> None:
    done = sentinel(api_env, "keys", "create", "--name", "x", "--scopes", "root")
    assert done.returncode != 0


def test_check_accepts_a_usable_key_and_refuses_a_revoked_or_unknown_one(
    api_env: dict[str, str], tmp_path: Path
) -> None:
    created = sentinel(api_env, "keys", "create", "--name", "checked", "--scopes", "ingest")
    key_file = tmp_path / "key"
    key_file.write_text(created.stdout.split()[-1] + "\n")
    assert sentinel(api_env, "keys", "check", "--key-file", str(key_file)).returncode == 0
    assert (
        sentinel(api_env, "keys", "revoke", created.stdout.split()[2].rstrip(",")).returncode == 0
    )
    revoked = sentinel(api_env, "keys", "check", "--key-file", str(key_file))
    assert revoked.returncode == 1 and "revoked" in revoked.stdout
    key_file.write_text("sk_never_created\n")  # e.g. a key file kept beside a new database
    unknown = sentinel(api_env, "keys", "check", "--key-file", str(key_file))
    assert unknown.returncode == 1 and "unknown API key" in unknown.stdout
