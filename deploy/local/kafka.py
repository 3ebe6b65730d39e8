"""The local Apache Kafka nodes: jars from Maven Central, KRaft storage, each node a process.

The cluster's shape and each node's properties are ``deploy.local.kafka_cluster``'s.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import uuid
from pathlib import Path

import psutil

from deploy.acls import ADMIN, PRINCIPALS
from deploy.local import kafka_security
from deploy.local.credentials import new_password
from deploy.local.kafka_cluster import (
    KafkaNode,
    cluster_nodes,
    formatted_cluster_id,
    node_properties,
    render_properties,
    render_server_properties,
)
from deploy.local.kafka_security import BrokerSecurity, broker_properties
from deploy.local.process import PidFile, spawn, terminate, wait_until
from deploy.local.secret_file import replace_private
from deploy.local.settings import StackSettings, host_port
from deploy.local.system import StackError

_DEPLOY = Path(__file__).resolve().parents[1]
MAIN_CLASS = "kafka.Kafka"

__all__ = ["KafkaService", "kafka_services", "new_cluster_id", "render_server_properties"]


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding, not starting
    with '-' (Kafka's own rule, so the id never reads as a command-line flag)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class KafkaService:
    """Fetches, formats, starts, probes and stops one node (the first when not given)."""

    def __init__(self, settings: StackSettings, node: KafkaNode | None = None) -> None:
        self.settings = settings
        self.nodes = cluster_nodes(settings)
        self.node = node or self.nodes[0]
        self.name = self.node.name
        self.home = settings.dir / self.name
        self.data = self.home / "data"
        self.log_file = settings.logs / f"{self.name}.log"
        # The marker is the node's own properties file: pid reuse aside, it tells this
        # node's process from its siblings'.
        self.pidfile = PidFile(
            settings.dir / "pids" / f"{self.name}.pid", str(self.home / "server.properties")
        )
        self._passwords: dict[str, str] | None = None

    @property
    def address(self) -> str:
        return self.node.address

    def properties(self) -> dict[str, str]:
        """This node's ``server.properties``."""
        return node_properties(self.settings, self.node, self.nodes, self.data)

    def prepare(self) -> None:
        self._refuse_other_shape()
        self._fetch_jars()
        self.home.mkdir(parents=True, exist_ok=True)
        props = self.home / "server.properties"
        security = self.security()
        secured = broker_properties(
            self.properties(), security, self.node.host, self.node.sasl_port
        )
        # It holds the TLS key's and the admin principal's passwords.
        replace_private(props, render_properties(secured))
        if not (self.data / "meta.properties").exists():
            siblings = [self.settings.dir / n.name / "data" for n in self.nodes]
            cluster_id = formatted_cluster_id(siblings) or new_cluster_id()
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "--ignore-formatted",
                "-t",
                cluster_id,
                "-c",
                str(props),
                *kafka_security.format_arguments(security),
            )

    def _refuse_other_shape(self) -> None:
        """A stack directory holds one cluster: its nodes' data cannot join another shape."""
        other = "kafka-1" if self.node.cluster_size == 1 else "kafka"
        if (self.settings.dir / other / "data" / "meta.properties").exists():
            raise StackError(
                f"{self.settings.dir} holds a Kafka cluster of another size ({other}/): "
                "`sentinel stack down --purge` first, or use another SENTINEL_STACK_DIR"
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
        """A real metadata request to this node, listing it among the cluster's brokers."""
        host, port = host_port(self.address, 9092)
        if not self.settings.kafka_dev_listener:
            port = self.node.sasl_port
        try:
            socket.create_connection((host, port), timeout=1).close()
        except OSError:
            return False
        from schemas import kafka_edge

        # This node alone, through the listener the stack itself uses (deploy.local.kafka_security).
        connection = kafka_security.admin_connection(self.settings, self.passwords()[ADMIN])
        alone = connection.model_copy(update={"bootstrap_servers": f"{host}:{port}"})
        admin = kafka_edge.admin(alone, log_level=0)
        try:
            return self.node.node_id in admin.list_topics(timeout=3).brokers
        except Exception:  # noqa: BLE001 - any client error means "not answering yet"
            return False

    def secure(self, timeout_s: float) -> list[str]:
        """Once the broker answers: every service's SCRAM principal and the ACL table for
        the stack's topic prefix, both idempotent; an unchanged credential is not written
        again. Reported: a principal whose password changed (its running clients lose
        access until they restart with the new one)."""
        if not wait_until(self.answers, timeout_s):
            return []  # `up` reports the broker that does not answer, with its log
        # Only the passwords kept somewhere (the env file, the environment): `stack up`
        # without them (SENTINEL_ENV_FILE empty) leaves the principals as they are.
        known = kafka_security.known_passwords(kafka_security.known_values(), PRINCIPALS)
        changes = kafka_security.secure_cluster(self.settings, self.passwords()[ADMIN], known)
        return [f"{self.name}: new SCRAM password for {user!r}" for user in changes.rotated]

    def stop(self) -> bool:
        """SIGTERM: a controlled shutdown, which hands this node's leaderships over first."""
        pid = self.pid()
        stopped = pid is not None and terminate(pid, self.settings.stop_timeout_s)
        self.pidfile.clear()
        return stopped

    def kill(self) -> bool:
        """SIGKILL, as a crash: no controlled shutdown. True if it was running."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).wait(timeout=30)
        self.pidfile.clear()
        return True

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
            *shlex.split(self.settings.kafka_jvm_options),
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


def kafka_services(settings: StackSettings) -> list[KafkaService]:
    """One service per node of the cluster ``settings`` describe."""
    return [KafkaService(settings, node) for node in cluster_nodes(settings)]
