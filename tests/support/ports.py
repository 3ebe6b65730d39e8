"""Loopback ports for servers of a test's own (a private broker, PostgreSQL, an API).

Ports come from below the kernel's ephemeral range (32768 and up here), where no client
connection and no ``bind(0)`` takes one, from a random place in it, and each port is held
by a lock file for as long as the process that took it lives: test processes running side
by side (pytest-xdist) never take the same one. A first-fit scan from a fixed port did,
and one worker's API then talked to another worker's private broker."""

from __future__ import annotations

import fcntl
import os
import random
import socket
import tempfile
from pathlib import Path

LOW, HIGH = 20_000, 32_000
_LOCKS = Path(tempfile.gettempdir()) / "sentinel-test-ports"
_held: list[int] = []  # the lock files' descriptors: closed (released) when the process ends


def free_port_block(size: int) -> int:
    """The first port of ``size`` consecutive free loopback ports, this process's alone."""
    _LOCKS.mkdir(exist_ok=True)
    bases = list(range(LOW, HIGH - size, size))
    random.shuffle(bases)
    for base in bases:
        taken = [fd for port in range(base, base + size) if (fd := _lock(port)) is not None]
        if len(taken) == size and all(_free(port) for port in range(base, base + size)):
            _held.extend(taken)
            return base
        for fd in taken:
            os.close(fd)
    raise RuntimeError(f"no {size} consecutive free ports in {LOW}..{HIGH}")


def _lock(port: int) -> int | None:
    """The held lock file of ``port``; None when another process holds it."""
    fd = os.open(_LOCKS / str(port), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def free_port() -> int:
    """One free loopback port, as ``free_port_block(1)``."""
    return free_port_block(1)


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
