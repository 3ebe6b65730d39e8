"""The main job as a newcomer runs it: a fresh copy of the tree, where no `.stack/` has ever
existed, then `make up`'s own commands against the running stack.

Every other suite gives its workers folders of its own; this one runs the pipeline exactly
as `make up` lays it out (the supervisor, its folders, its env file), on this module's own
topic prefix and database, so it can run beside the other suites.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import psutil
import psycopg
import pytest

from deploy.topics import TopicAdmin
from schemas.connections import KafkaConnection
from schemas.topics import declared_topics
from tests.support.agents import SENTINEL
from tests.support.ports import free_port

# The first model trains in the fixture (a small history, 20 rounds: seconds, not minutes).
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]
REPO = Path(__file__).resolve().parents[2]
RATE = "20"


@dataclass
class Newcomer:
    clone: Path
    env: dict[str, str]
    dsn: str
    up: subprocess.CompletedProcess[str]
    up_seconds: float

    def sentinel(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own console script
            [SENTINEL, *args],
            cwd=self.clone,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def states(self) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = orjson.loads(
            (self.clone / ".stack" / "pipeline" / "state.json").read_bytes()
        )
        return rows


def copy_tree(dest: Path) -> Path:
    """The tracked files as they are in the work tree (uncommitted edits included), and
    nothing git ignores: no `.stack/`, no virtualenv, no model, no cache."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    assert not (dest / ".stack").exists()
    return dest


@pytest.fixture(scope="module")
def newcomer(
    api_db: str, topic_prefix: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Newcomer]:
    clone = copy_tree(tmp_path_factory.mktemp("fresh-clone"))
    env = {k: v for k, v in os.environ.items() if k != "SENTINEL_ENV_FILE"}
    env.update(
        {
            "PYTHONPATH": str(clone),  # the copy's code, not the work tree's
            "SENTINEL_KAFKA_TOPIC_PREFIX": topic_prefix,
            "SENTINEL_POSTGRES_DSN": api_db,
            "SENTINEL_API_PORT": str(free_port()),
            "SENTINEL_CONSOLE_PORT": str(free_port()),
            "SENTINEL_CONSOLE_REDIS_PREFIX": f"test-console-{topic_prefix}",
            "SENTINEL_STACK_AGENTS_METRICS_PORT": str(free_port()),
            "SENTINEL_STACK_PIPELINE_READY_TIMEOUT_S": "60",
            # The copy shares a broker the suite's stack started: it has neither that
            # stack's CA nor its principals' passwords, so its services stay on the dev
            # listener (the SASL_SSL path: test_secure_pipeline, and a fresh `make up`).
            "SENTINEL_STACK_PIPELINE_SASL_SSL": "false",
            # A smaller simulated history than the demo's and fewer rounds, so the first model
            # trains fast.
            "SENTINEL_STACK_BOOTSTRAP_CUSTOMERS": "300",
            "SENTINEL_STACK_BOOTSTRAP_TERMINALS": "600",
            "SENTINEL_STACK_BOOTSTRAP_DAYS": "45",
            "SENTINEL_STACK_BOOTSTRAP_ROUNDS": "20",
        }
    )
    session = Newcomer(clone, env, api_db, subprocess.CompletedProcess([], 0), 0.0)
    for step in (("topics", "apply"), ("db", "migrate"), ("pipeline", "bootstrap")):
        done = session.sentinel(*step, timeout=600)
        assert done.returncode == 0, f"sentinel {' '.join(step)}:\n{done.stdout}{done.stderr}"
    began = time.monotonic()
    session.up = session.sentinel("pipeline", "up", "--rate", RATE, timeout=180)
    session.up_seconds = time.monotonic() - began
    try:
        yield session
    finally:
        session.sentinel("pipeline", "down", timeout=180)
        _delete_changelogs(topic_prefix)


def _delete_changelogs(prefix: str) -> None:
    """The topics faust created under the prefix (the ``topic_prefix`` fixture deletes the
    declared ones)."""
    admin = TopicAdmin(KafkaConnection())
    declared = {spec.name for spec in declared_topics(prefix)}
    names = [
        t
        for t in admin.admin.list_topics(timeout=10).topics
        if t.startswith(prefix) and t not in declared
    ]
    if names:
        admin.delete(names)


def test_up_decides_within_a_minute_with_every_service_up(newcomer: Newcomer) -> None:
    up = newcomer.up
    assert up.returncode == 0, f"pipeline up failed:\n{up.stdout}{up.stderr}"
    assert newcomer.up_seconds < 60, f"up took {newcomer.up_seconds:.0f} s"
    with psycopg.connect(newcomer.dsn) as conn:
        row = conn.execute("SELECT count(*) FROM decisions").fetchone()
    assert row is not None and row[0] > 0
    states = newcomer.states()
    assert {s["name"] for s in states} >= {"api", "agent-1", "agent-2", "sink", "traffic"}
    assert all(s["restarts"] == 0 and s["pid"] for s in states), states
    status = newcomer.sentinel("pipeline", "status")
    assert status.returncode == 0, status.stdout
    assert "failing" not in status.stdout


def test_up_says_where_the_console_is_and_its_demo_analysts_password(newcomer: Newcomer) -> None:
    password = newcomer.clone / ".stack" / "demo" / "console-analyst"
    assert password.stat().st_mode & 0o777 == 0o600
    out = " ".join(newcomer.up.stdout.split())  # rich wraps long lines
    port = newcomer.env["SENTINEL_CONSOLE_PORT"]
    assert f"http://127.0.0.1:{port}/console/" in out, out
    assert "demo-analyst" in out and str(password) in out, out
    assert str(newcomer.clone / ".stack" / "demo" / "api-key") in out, out


def test_view_shows_decisions_flowing(newcomer: Newcomer) -> None:
    view = newcomer.sentinel("pipeline", "view", "--seconds", "8")
    assert view.returncode == 0, view.stdout + view.stderr
    rates = [float(r) for r in re.findall(r"decisions/s\s+([\d.]+)", view.stdout)]
    assert rates and rates[-1] > 0, view.stdout


def test_every_command_sees_the_running_pipeline(newcomer: Newcomer) -> None:
    env_file = newcomer.clone / ".stack" / "sentinel.env"
    assert env_file.is_file()
    # No --registry, no SENTINEL_AGENTS_MODEL_REGISTRY: the env file `make up` wrote says it.
    env = {k: v for k, v in newcomer.env.items() if k != "SENTINEL_AGENTS_MODEL_REGISTRY"}
    env["COLUMNS"] = "250"  # rich's table would cut the version at 80 columns
    listed = subprocess.run(  # noqa: S603 - our own console script
        [SENTINEL, "models", "list"],
        cwd=newcomer.clone,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    current = (newcomer.clone / ".stack" / "models" / "CURRENT").read_text().strip()
    assert f"models in {newcomer.clone / '.stack' / 'models'}" in listed.stdout
    assert current in listed.stdout


def documented_replays(*docs: Path) -> list[str]:
    """Every `sentinel replay` command of the docs' shell blocks, continuation lines joined."""
    commands = []
    for doc in docs:
        for block in re.findall(r"```bash\n(.*?)```", doc.read_text(), flags=re.S):
            joined = block.replace("\\\n", " ")
            commands += [line for line in joined.splitlines() if "sentinel replay" in line]
    return commands


def test_the_documented_replays_run_against_it(newcomer: Newcomer) -> None:
    commands = documented_replays(
        newcomer.clone / "README.md", newcomer.clone / "docs" / "operations.md"
    )
    assert len(commands) >= 4, commands
    venv = newcomer.clone / ".venv"
    if not venv.exists():  # the commands say .venv/bin/sentinel, as a newcomer has it
        venv.symlink_to(Path(SENTINEL).parent.parent)
    prefix = newcomer.env["SENTINEL_KAFKA_TOPIC_PREFIX"]
    for command in commands:
        # --to-topic is literal: keep what the example publishes under this test's prefix.
        command = command.replace("--to-topic replay.", f"--to-topic {prefix}replay.")
        done = subprocess.run(  # noqa: S603 - the documented command, run as a user would
            ["bash", "-c", command],
            cwd=newcomer.clone,
            env=newcomer.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        assert "Traceback" not in done.stderr, done.stderr


def test_down_leaves_no_process_behind(newcomer: Newcomer) -> None:
    pids = [int(str(s["pid"])) for s in newcomer.states() if s["pid"]]
    supervisor = newcomer.clone / ".stack" / "pids" / "pipeline-supervisor.pid"
    pids.append(int(supervisor.read_text().split()[0]))
    down = newcomer.sentinel("pipeline", "down", timeout=180)
    assert down.returncode == 0, down.stdout + down.stderr
    left = [pid for pid in pids if psutil.pid_exists(pid) and _not_zombie(pid)]
    assert not left, f"still running after down: {left}"


def _not_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
