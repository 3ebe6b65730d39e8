"""The demo supervisor's bookkeeping with real child processes (no services)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from deploy.local.process import spawn, terminate
from deploy.local.supervisor import (
    FAILING_WINDOW_S,
    STABLE_S,
    ServiceSpec,
    ServiceState,
    Supervisor,
    last_error,
    read_state,
)


def python(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


def run_ticks(sup: Supervisor, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sup.tick()
        time.sleep(0.05)


def test_a_crashing_service_is_counted_and_its_error_kept(tmp_path: Path) -> None:
    crash = "raise FileNotFoundError(2, 'No such file or directory', '/x/agents/1')"
    specs = [
        ServiceSpec("ok", python("import time; time.sleep(30)")),
        ServiceSpec("bad", python(f"print('starting'); {crash}")),
    ]
    state_file = tmp_path / "state.json"
    sup = Supervisor(specs, tmp_path / "logs", state_file, spawn)
    try:
        run_ticks(sup, 3.5)  # the first exit backs off 2 s, then a second start
        states = {s.name: s for s in read_state(state_file)}
        assert states["ok"].restarts == 0 and states["ok"].pid is not None
        bad = states["bad"]
        assert bad.restarts >= 1
        assert bad.last_exit_code == 1
        assert bad.last_error is not None and "FileNotFoundError" in bad.last_error
        assert bad.health(time.time()) == "failing"
        assert states["ok"].health(time.time()) == "starting"
        assert states["ok"].health(time.time() + STABLE_S) == "up"
    finally:
        for state in sup.states.values():
            if state.pid:
                terminate(state.pid, timeout_s=5)


def test_health_reads_recent_exits_as_failing_and_old_ones_as_past() -> None:
    now = 1_000_000.0
    state = ServiceState("agent-1", "log", pid=42, started_at=now - 60, restarts=2)
    state.last_exit_at = now - 61
    assert state.health(now) == "failing"
    assert state.health(now + FAILING_WINDOW_S) == "up"
    assert ServiceState("x", "log").health(now) == "down"


def test_last_error_prefers_the_line_that_names_the_error() -> None:
    log = "Traceback (most recent call last):\n  File x\nValueError: bad\n[info] stopping\n"
    assert last_error(log) == "ValueError: bad"
    assert last_error("just a line\n\n") == "just a line"
    assert last_error("") is None


def test_no_state_file_means_no_services(tmp_path: Path) -> None:
    assert read_state(tmp_path / "missing.json") == []
