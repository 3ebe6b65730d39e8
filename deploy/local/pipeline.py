"""The demo pipeline `make up` runs: every SentinelStream service as a supervised process.

``sentinel pipeline up`` starts a detached supervisor (``deploy.local.supervisor``); it
starts the ingest API, two agent workers, the ledger sink, the labels sink, the hourly
merchant-risk job, the webhook dispatcher, the rules relay, the analyst console and
simulated traffic, restarts any that exits (with backoff), and stops them all on SIGTERM
(``sentinel pipeline down``, which ``make down`` calls). ``up`` returns only once every service has
stayed up and the first decision is in the ledger, or fails naming the service that did
not. Logs go to ``.stack/logs/<service>.log``; each service's restarts and last error to
``.stack/pipeline/state.json``.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psutil
import psycopg

from deploy.acls import PRINCIPALS
from deploy.local import kafka_security
from deploy.local.process import PidFile, spawn, tail, terminate
from deploy.local.settings import StackSettings
from deploy.local.supervisor import ServiceSpec, ServiceState, Supervisor, read_state
from schemas.connections import PostgresConnection

SENTINEL = str(Path(sys.executable).with_name("sentinel"))
# An agent worker through its own entry point (stream_agents/__main__.py): it starts in ~1 s,
# `sentinel agents run` in ~3. -P: the working directory is not put first on sys.path (as
# `-m` alone does), so the code run is the installed one or PYTHONPATH's, as for a console
# script, wherever the command is started from.
AGENT_WORKER = (sys.executable, "-P", "-m", "stream_agents", "run")
SUPERVISOR_MARKER = "pipeline supervise"
AGENT_WORKERS = 2


# The Kafka principal (deploy.acls) each service's clients are; http-traffic has none.
PRINCIPAL_OF = {
    "api": "api",
    "sink": "sink",
    "labels": "sink",
    "reviews": "sink",
    "merchant-risk": "merchant-risk",
    "webhooks": "dispatcher",
    "console": "console",
    "rules-relay": "rules-relay",
    "traffic": "gateway",
}


def principal_of(service: str) -> str | None:
    return "agents" if service.startswith("agent-") else PRINCIPAL_OF.get(service)


def secured(settings: StackSettings, specs: list[ServiceSpec]) -> list[ServiceSpec]:
    """``specs`` with each service's clients on the SASL_SSL listener as its own principal:
    its ``SENTINEL_KAFKA_*`` variables win over the env file's (the dev listener's)."""
    users = kafka_security.passwords(kafka_security.known_values(), PRINCIPALS)
    out = []
    for spec in specs:
        principal = principal_of(spec.name)
        if principal is None:
            out.append(spec)
            continue
        connection = kafka_security.principal_connection(settings, principal, users[principal])
        env = {**spec.env, **kafka_security.client_env(connection)}
        out.append(ServiceSpec(spec.name, spec.argv, env))
    return out


def demo_services(settings: StackSettings, rate: float, registry: Path) -> list[ServiceSpec]:
    """What the demo runs; add agent workers to add capacity."""
    agents = [
        ServiceSpec(
            f"agent-{n}",
            (*AGENT_WORKER, "--log-level", "warning"),
            {
                "SENTINEL_AGENTS_MODEL_REGISTRY": str(registry),
                "SENTINEL_AGENTS_METRICS_PORT": str(settings.agents_metrics_port + n - 1),
                # Static membership: a restarted worker gets its partitions back without a
                # rebalance (docs/adr/0004-static-membership.md).
                "SENTINEL_AGENTS_INSTANCE_ID": f"agent-{n}",
                # On disk: a restart re-reads only the changelog it has not persisted
                # (restart gap 2.2 s p50 against 4.9 s in memory, docs/performance.md).
                "SENTINEL_AGENTS_STORE": "rocksdb://",
                # A data dir per worker: a rocksdb table store locks its files.
                "SENTINEL_AGENTS_DATA_DIR": str(settings.agents_data / str(n)),
            },
        )
        for n in range(1, AGENT_WORKERS + 1)
    ]
    return [
        ServiceSpec("api", (SENTINEL, "api", "serve")),
        *agents,
        ServiceSpec("sink", (SENTINEL, "sink", "run"), {"SENTINEL_SINK_INSTANCE_ID": "sink-1"}),
        ServiceSpec(
            "labels", (SENTINEL, "labels", "sink"), {"SENTINEL_LABELS_INSTANCE_ID": "labels-1"}
        ),
        # The analysts' resolutions from the console's review queue into the ledger.
        ServiceSpec(
            "reviews", (SENTINEL, "reviews", "sink"), {"SENTINEL_REVIEWS_INSTANCE_ID": "reviews-1"}
        ),
        ServiceSpec("merchant-risk", (SENTINEL, "merchant-risk", "run")),
        # The one writer of the rules topic: what the API and the console commit.
        ServiceSpec("rules-relay", (SENTINEL, "rules", "relay")),
        ServiceSpec(
            "webhooks",
            (SENTINEL, "webhooks", "run"),
            {"SENTINEL_WEBHOOKS_INSTANCE_ID": "webhooks-1"},
        ),
        # SENTINEL_CONSOLE_HOST/_PORT (127.0.0.1:8100); `bootstrap` made its demo analyst.
        # The agents' registry: backtests score with the model the agents run, and the
        # Models page reads it (an admin's promotion rewrites its CURRENT).
        ServiceSpec(
            "console",
            (SENTINEL, "console", "run"),
            {"SENTINEL_AGENTS_MODEL_REGISTRY": str(registry)},
        ),
        ServiceSpec("traffic", (SENTINEL, "simulate", "produce", "--rate", f"{rate * 0.9:g}")),
        # A tenth of the traffic through the HTTP API, so both ingest paths run.
        ServiceSpec(
            "http-traffic",
            (SENTINEL, "pipeline", "http-traffic", "--rate", f"{max(1.0, rate * 0.1):g}"),
        ),
    ]


def purge(settings: StackSettings) -> list[Path]:
    """Delete what the demo keeps beside the stack's data and means nothing without it, for
    `sentinel stack down --purge`; returns what was there.

    - The agent workers' table stores: a copy of a changelog the purge deleted. A worker
      discards a store another cluster made itself (``stream_agents.datadir.
      bind_to_cluster``), but not one from before stores named their cluster, on which
      faust refuses to start against a fresh cluster (a ``ConsistencyError``).
    - The demo API key: its row was in the purged database (`bootstrap` would replace a
      key the database does not know anyway: ``sentinel keys check``).
    The trained models stay (`bootstrap` announces the registry's current one on the fresh
    cluster), and so does the demo analyst's password file, from which `bootstrap` creates
    the analyst again (``deploy.local.demo_analyst``).
    """
    # A symlink too (bootstrap keeps a key file that is one, even dangling).
    paths = (settings.agents_data, settings.demo_api_key)
    found = [p for p in paths if p.exists() or p.is_symlink()]
    for path in found:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    return found


def state_file(settings: StackSettings) -> Path:
    return settings.dir / "pipeline" / "state.json"


def supervisor(settings: StackSettings, rate: float, registry: Path) -> Supervisor:
    specs = demo_services(settings, rate, registry)
    if settings.pipeline_sasl_ssl:
        specs = secured(settings, specs)
    return Supervisor(specs, settings.logs, state_file(settings), spawn)


def supervisor_pidfile(settings: StackSettings) -> PidFile:
    return PidFile(settings.dir / "pids" / "pipeline-supervisor.pid", SUPERVISOR_MARKER)


def start(settings: StackSettings, rate: float, registry: Path) -> int:
    """Start the supervisor (detached) unless it runs already; returns its pid."""
    pidfile = supervisor_pidfile(settings)
    running = pidfile.live_pid()
    if running is not None:
        return running
    state_file(settings).unlink(missing_ok=True)  # a fresh supervisor, fresh counts
    argv = [SENTINEL, "pipeline", "supervise", "--rate", f"{rate:g}", "--registry", str(registry)]
    pid = spawn(argv, settings.logs / "supervisor.log")
    pidfile.write(pid)
    return pid


def stop(settings: StackSettings) -> bool:
    """Stop the supervisor, which stops its services; True if it was running."""
    pidfile = supervisor_pidfile(settings)
    pid = pidfile.live_pid()
    stopped = pid is not None and terminate(pid, timeout_s=90)
    pidfile.clear()
    return stopped


def status(settings: StackSettings) -> list[ServiceState]:
    """Each service as the supervisor last wrote it; none runs without a live supervisor."""
    states = read_state(state_file(settings))
    if supervisor_pidfile(settings).live_pid() is None:
        for state in states:
            if state.pid is not None and not psutil.pid_exists(state.pid):
                state.pid = None
    return states


def decisions_since(since: datetime, postgres: PostgresConnection) -> int:
    """Decisions the ledger holds that were made at or after ``since``."""
    try:
        with psycopg.connect(postgres.dsn.get_secret_value(), connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT count(*) FROM decisions WHERE decided_at >= %s", (since,)
            ).fetchone()
    except psycopg.Error:
        return 0  # not migrated yet, or restarting: not a decision either way
    return int(row[0]) if row else 0


@dataclass(frozen=True, slots=True)
class Readiness:
    ok: bool
    decisions: int
    states: list[ServiceState]

    def not_up(self) -> list[ServiceState]:
        now = time.time()
        return [s for s in self.states if s.health(now) != "up"]


def wait_ready(
    settings: StackSettings,
    since: datetime,
    timeout_s: float,
    postgres: PostgresConnection,
    say: Callable[[str], None] = lambda _line: None,
) -> Readiness:
    """Wait until every service has stayed up and the first decision is in the ledger."""
    deadline = time.monotonic() + timeout_s
    said = ""
    while True:
        states = status(settings)
        decided = decisions_since(since, postgres)
        ready = Readiness(False, decided, states)
        waiting = ready.not_up()
        if states and not waiting and decided > 0:
            return Readiness(True, decided, states)
        if supervisor_pidfile(settings).live_pid() is None or time.monotonic() >= deadline:
            return ready
        line = f"waiting: {', '.join(s.name for s in waiting) or 'the first decision'}"
        if line != said:
            say(line)
            said = line
        time.sleep(1.0)


def log_tail(state: ServiceState, lines: int = 20) -> str:
    return tail(Path(state.log), lines)
