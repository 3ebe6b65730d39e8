"""Brings the local stack up, reports on it and takes it down: idempotent, pid-tracked."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from deploy.local.kafka import kafka_services
from deploy.local.postgres import PostgresService
from deploy.local.process import tail, wait_until
from deploy.local.redis import RedisService
from deploy.local.settings import StackSettings
from deploy.local.system import StackError, ensure_packages

PROBES = {"kafka": "a metadata request", "postgres": "SELECT 1", "redis": "PING"}


class Service(Protocol):
    """What the stack needs of each server it runs."""

    name: str
    log_file: Path

    @property
    def address(self) -> str: ...
    def prepare(self) -> None: ...
    def start(self) -> None: ...
    def secure(self, timeout_s: float) -> list[str]: ...
    def pid(self) -> int | None: ...
    def answers(self) -> bool: ...
    def stop(self) -> bool: ...
    def purge(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    name: str
    address: str
    pid: int | None
    answers: bool
    log_file: Path


def services(settings: StackSettings) -> list[Service]:
    """In start order; ``down`` stops them in reverse. Kafka is one service per node
    (``kafka``, or ``kafka-1``... for a cluster): all are started before any is awaited,
    since a node of a cluster answers only once a quorum of controllers has formed."""
    return [PostgresService(settings), RedisService(settings), *kafka_services(settings)]


def up(
    settings: StackSettings,
    say: Callable[[str], None] = lambda _: None,
    secured: Callable[[str], None] | None = None,
) -> list[ServiceStatus]:
    """Install what is missing, start what is not running, wait until every service answers.

    ``secured`` hears each password given to a running server (``say`` if not given)."""
    installed = ensure_packages()
    if installed:
        say(f"installed Debian packages: {' '.join(installed)}")
    stack = services(settings)
    for service in stack:
        service.prepare()
    for service in stack:
        if service.answers():
            say(f"{service.name} already answers on {service.address}")
        elif service.pid() is None:
            say(f"starting {service.name} on {service.address}")
            service.start()
    for service in stack:
        # A server from before the generated passwords gets them here, before it is asked
        # to answer with them.
        for change in service.secure(settings.start_timeout_s):
            (secured or say)(change)
        _wait(service, settings.start_timeout_s)
    _after_start(stack)
    return status(settings)


def _wait(service: Service, timeout_s: float) -> None:
    if wait_until(service.answers, timeout_s):
        return
    probe = PROBES[service.name.partition("-")[0]]  # kafka-2 is probed as kafka
    raise StackError(
        f"{service.name} did not answer {probe} on {service.address} within "
        f"{timeout_s:.0f} s; its log is {service.log_file}. Last lines:\n{tail(service.log_file)}"
    )


def _after_start(stack: list[Service]) -> None:
    for service in stack:
        if isinstance(service, PostgresService):
            service.after_start()


def status(settings: StackSettings) -> list[ServiceStatus]:
    return [
        ServiceStatus(s.name, s.address, s.pid(), s.answers(), settings.logs / f"{s.name}.log")
        for s in services(settings)
    ]


def down(settings: StackSettings, purge: bool = False) -> list[str]:
    """Stop exactly the processes this stack started; with ``purge`` also delete their data.

    A cluster's Kafka nodes stop together: stopped one by one, the last would wait for a
    controller quorum that is gone, then be killed after ``stop_timeout_s``."""
    stack = list(reversed(services(settings)))
    kafka = [s for s in stack if s.name.startswith("kafka")]
    with ThreadPoolExecutor(max_workers=max(1, len(kafka))) as pool:  # a stack may run none
        kafka_stopped = dict(zip(kafka, pool.map(lambda s: s.stop(), kafka), strict=True))
    stopped = []
    for service in stack:
        done = kafka_stopped[service] if service in kafka_stopped else service.stop()
        if done:
            stopped.append(service.name)
        if purge:
            service.purge()
    return stopped
