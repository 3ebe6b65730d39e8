"""The local Apache Kafka broker: jars from Maven Central, KRaft storage, one combined node."""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import uuid
from pathlib import Path

from deploy.local.process import PidFile, spawn, terminate
from deploy.local.settings import LOOPBACK, StackSettings, host_port
from deploy.local.system import StackError

_DEPLOY = Path(__file__).resolve().parents[1]
MAIN_CLASS = "kafka.Kafka"


def render_server_properties(settings: StackSettings, data_dir: Path) -> str:
    """server.properties for a single combined broker+controller bound to loopback only."""
    host, port = host_port(settings.kafka.bootstrap_servers, 9092)
    if host not in LOOPBACK:
        raise StackError(f"the local Kafka binds to loopback only, not {host!r}")
    ctl = settings.kafka_controller_port
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{host}:{ctl}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{ctl}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        # Topics are code (schemas/topics.py); a typo must fail, not create a topic.
        "auto.create.topics.enable": "false",
        "num.partitions": str(settings.kafka_partitions_default),
        # One broker holds one copy of Kafka's own internal topics.
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # Tests start many short-lived consumer groups; don't make each wait 3 s.
        "group.initial.rebalance.delay.ms": "0",
        "delete.topic.enable": "true",
    }
    return "".join(f"{key}={value}\n" for key, value in props.items())


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding, not starting
    with '-' (Kafka's own rule, so the id never reads as a command-line flag)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class KafkaService:
    """Fetches, formats, starts, probes and stops the broker."""

    name = "kafka"

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.home = settings.dir / "kafka"
        self.data = self.home / "data"
        self.log_file = settings.logs / "kafka.log"
        self.pidfile = PidFile(settings.dir / "pids" / "kafka.pid", MAIN_CLASS)

    @property
    def address(self) -> str:
        return self.settings.kafka.bootstrap_servers

    def prepare(self) -> None:
        self._fetch_jars()
        self.home.mkdir(parents=True, exist_ok=True)
        props = self.home / "server.properties"
        props.write_text(render_server_properties(self.settings, self.data))
        if not (self.data / "meta.properties").exists():
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "--ignore-formatted",
                "-t",
                new_cluster_id(),
                "-c",
                str(props),
            )

    def start(self) -> None:
        cmd = [*self._java_prefix(), MAIN_CLASS, str(self.home / "server.properties")]
        self.pidfile.write(spawn(cmd, self.log_file))

    def pid(self) -> int | None:
        return self.pidfile.live_pid()

    def answers(self) -> bool:
        """A real metadata request: the broker lists itself."""
        host, port = host_port(self.address, 9092)
        try:
            socket.create_connection((host, port), timeout=1).close()
        except OSError:
            return False
        from schemas import kafka_edge
        from schemas.connections import KafkaConnection

        # This broker alone, with the client's security from the environment.
        kafka = KafkaConnection(bootstrap_servers=self.address)
        admin = kafka_edge.admin(kafka, log_level=0)
        try:
            return len(admin.list_topics(timeout=3).brokers) > 0
        except Exception:  # noqa: BLE001 - any client error means "not answering yet"
            return False

    def secure(self, timeout_s: float) -> list[str]:
        """The local broker has no password (PLAINTEXT on loopback): nothing to set."""
        del timeout_s
        return []

    def stop(self) -> bool:
        pid = self.pid()
        stopped = pid is not None and terminate(pid, self.settings.stop_timeout_s)
        self.pidfile.clear()
        return stopped

    def purge(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)

    def _fetch_jars(self) -> None:
        libs = self.settings.kafka_libs
        marker = libs / f"kafka_2.13-{self.settings.kafka_version}.jar"
        if marker.exists():
            return
        argv = [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(_DEPLOY / "pom.xml"),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
            f"-Dkafka.version={self.settings.kafka_version}",
        ]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0 or not marker.exists():
            raise StackError(
                f"fetching Kafka {self.settings.kafka_version} from Maven Central "
                f"failed ({' '.join(argv)}):\n{(done.stdout + done.stderr)[-3000:]}"
            )

    def _java_prefix(self) -> list[str]:
        return [
            "java",
            "-Xms256m",
            f"-Xmx{self.settings.kafka_heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={Path(__file__).with_name('log4j2.properties')}",
            "-cp",
            f"{self.settings.kafka_libs}/*",
        ]

    def _java(self, main: str, *args: str) -> None:
        argv = [*self._java_prefix(), main, *args]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise StackError(
                f"{main} {' '.join(args)} failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}"
            )
