"""The demo pipeline `make up` runs: every SentinelStream service as a supervised process.

``sentinel pipeline up`` starts a detached supervisor; it starts the ingest API, two agent
workers, the ledger sink, the labels sink, the hourly merchant-risk job, the webhook
dispatcher and simulated traffic, restarts any that exits (with backoff), and stops them
all on SIGTERM (``sentinel pipeline down``, which ``make down`` calls). Logs go to
``.stack/logs/<service>.log``.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local.process import PidFile, runs, spawn, terminate
from deploy.local.settings import StackSettings

SENTINEL = str(Path(sys.executable).with_name("sentinel"))
SUPERVISOR_MARKER = "pipeline supervise"


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)


def demo_services(settings: StackSettings, rate: float, registry: Path) -> list[ServiceSpec]:
    """What the demo runs; add agent workers to add capacity."""
    agents_env = {"SENTINEL_AGENTS_MODEL_REGISTRY": str(registry)}
    # A data dir per worker: a rocksdb table store (SENTINEL_AGENTS_STORE) locks its files.
    return [
        ServiceSpec("api", (SENTINEL, "api", "serve")),
        ServiceSpec(
            "agent-1",
            (SENTINEL, "agents", "run", "--log-level", "warning"),
            {
                **agents_env,
                "SENTINEL_AGENTS_METRICS_PORT": "9101",
                "SENTINEL_AGENTS_DATA_DIR": str(settings.dir / "agents" / "1"),
            },
        ),
        ServiceSpec(
            "agent-2",
            (SENTINEL, "agents", "run", "--log-level", "warning"),
            {
                **agents_env,
                "SENTINEL_AGENTS_METRICS_PORT": "9102",
                "SENTINEL_AGENTS_DATA_DIR": str(settings.dir / "agents" / "2"),
            },
        ),
        ServiceSpec("sink", (SENTINEL, "sink", "run"), {"SENTINEL_SINK_INSTANCE_ID": "sink-1"}),
        ServiceSpec(
            "labels", (SENTINEL, "labels", "sink"), {"SENTINEL_LABELS_INSTANCE_ID": "labels-1"}
        ),
        ServiceSpec("merchant-risk", (SENTINEL, "merchant-risk", "run")),
        ServiceSpec(
            "webhooks",
            (SENTINEL, "webhooks", "run"),
            {"SENTINEL_WEBHOOKS_INSTANCE_ID": "webhooks-1"},
        ),
        ServiceSpec("traffic", (SENTINEL, "simulate", "produce", "--rate", f"{rate * 0.9:g}")),
        # A tenth of the traffic through the HTTP API, so both ingest paths run.
        ServiceSpec(
            "http-traffic",
            (SENTINEL, "pipeline", "http-traffic", "--rate", f"{max(1.0, rate * 0.1):g}"),
        ),
    ]


@dataclass
class Child:
    spec: ServiceSpec
    pid: int | None = None
    restarts: int = 0
    next_start: float = 0.0


class Supervisor:
    """Keeps every service running until told to stop."""

    def __init__(self, settings: StackSettings, specs: list[ServiceSpec]) -> None:
        self.settings = settings
        self.children = [Child(spec) for spec in specs]
        self.stopping = False

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        while not self.stopping:
            for child in self.children:
                self._keep_alive(child)
            time.sleep(0.5)
        for child in reversed(self.children):
            if child.pid is not None:
                terminate(child.pid, timeout_s=30)
            PidFile(self._pidfile(child.spec.name), "").clear()

    def _keep_alive(self, child: Child) -> None:
        if child.pid is not None:
            try:
                done, _status = os.waitpid(child.pid, os.WNOHANG)
            except ChildProcessError:
                done = child.pid
            if done == 0:
                return
            child.pid = None
            child.restarts += 1
            # Back off up to 30 s so a service that cannot start does not spin.
            child.next_start = time.monotonic() + min(30.0, 2.0 ** min(child.restarts, 5))
        if time.monotonic() >= child.next_start:
            env = {**os.environ, **child.spec.env}
            log = self.settings.logs / f"{child.spec.name}.log"
            child.pid = spawn(child.spec.argv, log, env)
            PidFile(self._pidfile(child.spec.name), child.spec.argv[1]).write(child.pid)

    def _pidfile(self, name: str) -> Path:
        return self.settings.dir / "pids" / f"pipeline-{name}.pid"

    def _stop(self, _signum: int, _frame: object) -> None:
        self.stopping = True


def supervisor_pidfile(settings: StackSettings) -> PidFile:
    return PidFile(settings.dir / "pids" / "pipeline-supervisor.pid", SUPERVISOR_MARKER)


def start(settings: StackSettings, rate: float, registry: Path) -> int:
    """Start the supervisor (detached) unless it runs already; returns its pid."""
    pidfile = supervisor_pidfile(settings)
    running = pidfile.live_pid()
    if running is not None:
        return running
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


def status(settings: StackSettings) -> dict[str, int | None]:
    """Each service's live pid (None when it is not running)."""
    out: dict[str, int | None] = {}
    for path in sorted((settings.dir / "pids").glob("pipeline-*.pid")):
        name = path.stem.removeprefix("pipeline-")
        pid = PidFile(path, "").live_pid()
        out[name] = pid if pid is not None and runs(pid, "sentinel") else None
    return out
