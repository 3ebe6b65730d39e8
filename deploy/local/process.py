"""Detached server processes that outlive the command which started them, tracked by pid files."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil


class PidFile:
    """A pid recorded on disk, trusted only while that pid still runs the expected program.

    The marker guards against pid reuse: after a reboot the recorded number may belong to
    an unrelated process, which ``down`` must never signal.
    """

    def __init__(self, path: Path, marker: str) -> None:
        self.path = path
        self.marker = marker

    def write(self, pid: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"{pid}\n")

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def live_pid(self) -> int | None:
        """The recorded pid if it is alive and runs our program, else None."""
        try:
            pid = int(self.path.read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None
        return pid if runs(pid, self.marker) else None


def runs(pid: int, marker: str) -> bool:
    """Whether ``pid`` is a live (not zombie) process whose command line contains ``marker``."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return marker in " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def spawn(cmd: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None) -> int:
    """Start ``cmd`` in its own session with output appended to ``log_path``; return its pid.

    posix_spawn rather than Popen: the server is meant to outlive this process, and a Popen
    object would warn when collected with its child still running.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        return os.posix_spawnp(
            cmd[0],
            list(cmd),
            dict(env) if env is not None else dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, log_fd, 1),
                (os.POSIX_SPAWN_DUP2, log_fd, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(log_fd)


def terminate(pid: int, timeout_s: float) -> bool:
    """SIGTERM ``pid`` and wait for it; SIGKILL it after ``timeout_s``. True if it was running."""
    try:
        proc = psutil.Process(pid)
        proc.send_signal(signal.SIGTERM)
    except psutil.NoSuchProcess:
        return False
    try:
        proc.wait(timeout=timeout_s)
    except psutil.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    return True


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file, for error messages."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 8192))
            text = handle.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return "(no log yet)"
    return "\n".join(text.splitlines()[-lines:])


def wait_until(check: Callable[[], bool], timeout_s: float, interval_s: float = 0.25) -> bool:
    """Poll ``check()`` until it returns True or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval_s)
    return bool(check())
