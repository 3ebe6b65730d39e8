"""The local Redis server: loopback only, append-only persistence, no silent eviction."""

from __future__ import annotations

import shutil

import redis

from deploy.local.process import PidFile, spawn, terminate
from deploy.local.settings import LOOPBACK, StackSettings, host_port
from deploy.local.system import StackError


class RedisService:
    """Starts redis-server in the foreground of a detached session and tracks its pid."""

    name = "redis"

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.url = settings.redis.url.get_secret_value()
        self.host, self.port = host_port(self.url, 6379)
        if self.host not in LOOPBACK:
            raise StackError(f"the local Redis binds to loopback only, not {self.host!r}")
        self.home = settings.dir / "redis"
        self.log_file = settings.logs / "redis.log"
        self.pidfile = PidFile(settings.dir / "pids" / "redis.pid", f":{self.port}")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        cmd = [
            "redis-server",
            "--bind",
            self.host,
            "--port",
            str(self.port),
            "--protected-mode",
            "yes",
            "--dir",
            str(self.home),
            "--daemonize",
            "no",
            "--logfile",
            "",
            # Idempotency keys must survive a restart and must never be evicted to make
            # room: a full Redis refuses writes (the API answers 503) instead.
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--maxmemory",
            self.settings.redis_maxmemory,
            "--maxmemory-policy",
            "noeviction",
        ]
        self.pidfile.write(spawn(cmd, self.log_file))

    def pid(self) -> int | None:
        return self.pidfile.live_pid()

    def answers(self) -> bool:
        client = redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def stop(self) -> bool:
        pid = self.pid()
        stopped = pid is not None and terminate(pid, self.settings.stop_timeout_s)
        self.pidfile.clear()
        return stopped

    def purge(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)
