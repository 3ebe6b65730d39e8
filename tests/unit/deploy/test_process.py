"""Pid files and detached processes, with real (harmless) child processes."""

from __future__ import annotations

import sys
from pathlib import Path

from deploy.local.process import PidFile, spawn, tail, terminate, wait_until

SLEEPER = [sys.executable, "-c", "import time; print('sleeper up', flush=True); time.sleep(60)"]


def test_spawned_process_is_tracked_then_terminated(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "sleeper.log"
    pidfile = PidFile(tmp_path / "sleeper.pid", "time.sleep(60)")
    pidfile.write(spawn(SLEEPER, log))
    # posix_spawn returns before the child has exec'd: its command line is ours until then.
    assert wait_until(lambda: "sleeper up" in tail(log), timeout_s=10)
    pid = pidfile.live_pid()
    assert pid is not None
    assert terminate(pid, timeout_s=5)
    assert wait_until(lambda: pidfile.live_pid() is None, timeout_s=5)


def test_a_reused_pid_running_another_program_is_not_ours(tmp_path: Path) -> None:
    pidfile = PidFile(tmp_path / "x.pid", "kafka.Kafka")
    pid = spawn(SLEEPER, tmp_path / "x.log")
    try:
        pidfile.write(pid)
        assert pidfile.live_pid() is None
    finally:
        terminate(pid, timeout_s=5)


def test_missing_or_garbage_pid_file_means_not_running(tmp_path: Path) -> None:
    pidfile = PidFile(tmp_path / "none.pid", "x")
    assert pidfile.live_pid() is None
    pidfile.path.write_text("not a pid")
    assert pidfile.live_pid() is None
    pidfile.clear()
    assert not pidfile.path.exists()


def test_tail_of_missing_log() -> None:
    assert tail(Path("/nonexistent/log")) == "(no log yet)"
