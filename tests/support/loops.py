"""A service's blocking `run(settings, stopping)` loop in a thread of the test process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

S = TypeVar("S")


@contextmanager
def loop_thread(
    run: Callable[[S, threading.Event], None], settings: S, name: str
) -> Iterator[threading.Thread]:
    """A consumer's `run(settings, stopping)` loop (the sink's, the labels or reviews sink's)
    in a thread of this process, stopped gracefully after; its own error is raised here."""
    stopping = threading.Event()
    failures: list[BaseException] = []

    def target() -> None:
        try:
            run(settings, stopping)
        except BaseException as exc:  # surfaced in the test, not lost in the thread
            failures.append(exc)

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stopping.set()
        thread.join(timeout=30)
        if failures:  # the loop's own error explains a test failure best
            raise failures[0]
    assert not thread.is_alive(), f"the {name} did not stop"
