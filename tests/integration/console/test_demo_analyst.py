"""`make up`'s demo analyst on the real database: created from a generated password file,
kept on a second run, reset when the file is gone; and it signs in to a console started from
the very service spec the demo pipeline supervises."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import httpx
import psycopg
import pytest

from deploy.local.demo_analyst import USERNAME, Outcome, Runner, ensure, password_file
from deploy.local.pipeline import demo_services
from deploy.local.settings import StackSettings
from tests.support.api import SENTINEL, stop_api
from tests.support.console import sign_in, start_console

pytestmark = pytest.mark.integration


def runner(env: dict[str, str]) -> Runner:
    def run(args: Sequence[str]) -> int:
        return subprocess.run(  # noqa: S603 - our own console script
            [SENTINEL, *args], env=env, capture_output=True, timeout=60, check=False
        ).returncode

    return run


def signs_in(url: str, password: str) -> bool:
    with httpx.Client(base_url=url, follow_redirects=False, timeout=10) as client:
        answer = sign_in(client, USERNAME, password)
        return answer.status_code == 303 and client.get("/console/").status_code == 200


def test_the_demo_analyst_signs_in_to_the_console_make_up_runs(
    console_env: dict[str, str], api_db: str, tmp_path: Path
) -> None:
    path = password_file(tmp_path)
    run = runner(console_env)
    assert ensure(path, run) is Outcome.CREATED
    assert ensure(path, run) is Outcome.KEPT
    first = path.read_text().strip()

    (spec,) = [
        s for s in demo_services(StackSettings(dir=tmp_path), 10, tmp_path) if s.name == "console"
    ]
    proc, url = start_console(spec.argv, {**console_env, **spec.env}, tmp_path / "console.log")
    try:
        assert signs_in(url, first)
        path.unlink()
        assert ensure(path, run) is Outcome.RESET
        second = path.read_text().strip()
        assert second != first
        assert signs_in(url, second)
        assert not signs_in(url, first)
    finally:
        stop_api(proc)
    with psycopg.connect(api_db) as conn:
        actions = [
            row[0]
            for row in conn.execute(
                "SELECT action FROM console_audit WHERE target = %s AND actor LIKE 'cli%%'"
                " ORDER BY audit_id",
                (USERNAME,),
            )
        ]
    assert actions == ["user.created", "user.password_set"]
