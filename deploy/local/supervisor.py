"""The demo pipeline's supervisor: keeps each service running and says how each one fares.

It restarts a service that exits (with backoff), counts its restarts, keeps the last error
line of its log, and writes all of it to a state file after every change, so that
``sentinel pipeline status`` (another process) can tell a service that runs from one that
keeps exiting. A crash-looping service must never look like a running one.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import orjson

from deploy.local.process import tail, terminate

# A service that has stayed up this long since its last start counts as up.
STABLE_S = 5.0
# A service that exited within this long counts as failing, even if it runs again now.
FAILING_WINDOW_S = 300.0
# Log lines that name an error rather than the noise around it (a traceback's last line).
_ERROR = re.compile(r"(Error|Exception|error|ERROR|CRITICAL|Traceback|refused|failed)")


class SpawnFn(Protocol):
    def __call__(self, argv: Sequence[str], log: Path, env: Mapping[str, str] | None, /) -> int: ...


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class ServiceState:
    """What the supervisor knows of one service; written to the state file as is."""

    name: str
    log: str
    pid: int | None = None
    started_at: float | None = None  # wall clock of the current (or last) start
    restarts: int = 0
    last_exit_at: float | None = None
    last_exit_code: int | None = None
    last_error: str | None = None

    def health(self, now: float) -> str:
        """``up``, ``starting``, ``failing`` or ``down`` (see the module docstring)."""
        if self.last_exit_at is not None and now - self.last_exit_at < FAILING_WINDOW_S:
            return "failing"
        if self.pid is None or self.started_at is None:
            return "down"
        return "up" if now - self.started_at >= STABLE_S else "starting"


def last_error(log_text: str) -> str | None:
    """The last line of a log that names an error, else its last non-empty line."""
    lines = [line.strip() for line in log_text.splitlines() if line.strip()]
    for line in reversed(lines):
        if _ERROR.search(line):
            return line[:500]
    return lines[-1][:500] if lines else None


def exit_code(status: int) -> int:
    """A wait status as a shell shows it: the exit code, or 128 + the killing signal."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1


def read_state(path: Path) -> list[ServiceState]:
    """The services as the supervisor last wrote them (none if it never wrote)."""
    try:
        rows = orjson.loads(path.read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return []
    return [ServiceState(**row) for row in rows]


class Supervisor:
    """Starts every service, restarts any that exits, stops them all on SIGTERM/SIGINT."""

    def __init__(
        self, specs: list[ServiceSpec], logs: Path, state_file: Path, spawn: SpawnFn
    ) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.logs = logs
        self.state_file = state_file
        self.spawn = spawn
        self.states = {s.name: ServiceState(s.name, str(logs / f"{s.name}.log")) for s in specs}
        self.next_start = dict.fromkeys(self.specs, 0.0)
        self.stopping = False

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        while not self.stopping:
            self.tick()
            time.sleep(0.5)
        for state in reversed(list(self.states.values())):
            if state.pid is not None:
                terminate(state.pid, timeout_s=30)
                state.pid = None
        self._write()

    def tick(self) -> None:
        """Reap what exited, start what is due; write the state file if anything changed."""
        changed = False
        for name, state in self.states.items():
            if state.pid is not None and self._reap(state):
                changed = True
            if state.pid is None and time.monotonic() >= self.next_start[name]:
                spec = self.specs[name]
                state.pid = self.spawn(spec.argv, Path(state.log), {**os.environ, **spec.env})
                state.started_at = time.time()
                changed = True
        if changed:
            self._write()

    def _reap(self, state: ServiceState) -> bool:
        try:
            done, status = os.waitpid(state.pid or 0, os.WNOHANG)
        except ChildProcessError:
            done, status = state.pid or 0, 0
        if done == 0:
            return False
        state.pid = None
        state.restarts += 1
        state.last_exit_at = time.time()
        state.last_exit_code = exit_code(status)
        state.last_error = last_error(tail(Path(state.log), lines=200))
        # Back off up to 30 s so a service that cannot start does not spin.
        backoff = min(30.0, 2.0 ** min(state.restarts, 5))
        self.next_start[state.name] = time.monotonic() + backoff
        return True

    def _write(self) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps([asdict(s) for s in self.states.values()]))
        tmp.replace(self.state_file)  # readers never see a half-written file

    def _stop(self, _signum: int, _frame: object) -> None:
        self.stopping = True
