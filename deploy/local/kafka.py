"""The local Apache Kafka broker: jars from Maven Central, KRaft storage, one combined node."""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import uuid
from pathlib import Path

from deploy.acls import ADMIN, PRINCIPALS
from deploy.local import kafka_security
from deploy.local.credentials import new_password
from deploy.local.kafka_security import BrokerSecurity, broker_properties
from deploy.local.process import PidFile, spawn, terminate, wait_until
from deploy.local.secret_file import replace_private
from deploy.local.settings import LOOPBACK, StackSettings, host_port
from deploy.local.system import StackError
from schemas.kafka_edge import client_config

_DEPLOY = Path(__file__).resolve().parents[1]
MAIN_CLASS = "kafka.Kafka"


def render_server_properties(
    settings: StackSettings, data_dir: Path, security: BrokerSecurity | None = None
) -> str:
    """server.properties for a single combined broker+controller bound to loopback only;
    with ``security``, its SASL_SSL listener and authorizer (deploy.local.kafka_security)."""
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
    if security is not None:
        props = broker_properties(props, security, host, settings.kafka_sasl_ssl_port)
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
        self._passwords: dict[str, str] | None = None

    @property
    def address(self) -> str:
        return self.settings.kafka.bootstrap_servers

    def prepare(self) -> None:
        self._fetch_jars()
        self.home.mkdir(parents=True, exist_ok=True)
        props = self.home / "server.properties"
        security = self.security()
        # It holds the TLS key's and the admin principal's passwords.
        replace_private(props, render_server_properties(self.settings, self.data, security))
        if not (self.data / "meta.properties").exists():
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "--ignore-formatted",
                "-t",
                new_cluster_id(),
                "-c",
                str(props),
                *kafka_security.format_arguments(security),
            )

    def security(self) -> BrokerSecurity:
        """The broker's TLS files (made on first start) and the admin principal."""
        files = kafka_security.tls_files(self.settings.dir)
        key_password = files.key_password
        if not files.complete():
            kafka_security.ensure_certificates(files, new_password())
        admin = self.passwords()[ADMIN]
        return BrokerSecurity(
            files,
            key_password.read_text().strip(),
            ADMIN,
            admin,
            dev_listener=self.settings.kafka_dev_listener,
        )

    def passwords(self) -> dict[str, str]:
        if self._passwords is None:
            self._passwords = kafka_security.passwords(kafka_security.known_values(), PRINCIPALS)
        return self._passwords

    def start(self) -> None:
        cmd = [*self._java_prefix(), MAIN_CLASS, str(self.home / "server.properties")]
        self.pidfile.write(spawn(cmd, self.log_file))

    def pid(self) -> int | None:
        return self.pidfile.live_pid()

    def answers(self) -> bool:
        """A real metadata request: the broker lists itself."""
        host, port = host_port(self.address, 9092)
        if not self.settings.kafka_dev_listener:
            port = self.settings.kafka_sasl_ssl_port
        try:
            socket.create_connection((host, port), timeout=1).close()
        except OSError:
            return False
        from confluent_kafka.admin import AdminClient

        connection = kafka_security.admin_connection(self.settings, self.passwords()[ADMIN])
        admin = AdminClient({**client_config(connection), "log_level": 0})
        try:
            return len(admin.list_topics(timeout=3).brokers) > 0
        except Exception:  # noqa: BLE001 - any client error means "not answering yet"
            return False

    def secure(self, timeout_s: float) -> list[str]:
        """Once the broker answers: every service's SCRAM principal and the ACL table for
        the stack's topic prefix, both idempotent. Nothing to report: no running client
        loses access by it."""
        if not wait_until(self.answers, timeout_s):
            return []  # `up` reports the broker that does not answer, with its log
        kafka_security.secure_cluster(self.settings, self.passwords())
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
