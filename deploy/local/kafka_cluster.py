"""The local Kafka cluster's shape: its KRaft nodes, their addresses and each node's properties.

One node, or several (``SENTINEL_STACK_KAFKA_BROKERS``), each a combined broker and
controller on loopback. Each node's ``server.properties`` is built as a dict
(``node_properties``) so that other concerns (TLS, SASL, an authorizer) can be merged into it;
the listeners are decided in one function, ``listeners``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from deploy.local.settings import LOOPBACK, StackSettings, host_port
from deploy.local.system import StackError
from schemas.topics import fitted_replication

# Each further node takes the next pair of ports: its client port and its controller port.
PORT_STRIDE = 2


@dataclass(frozen=True, slots=True)
class KafkaNode:
    """One KRaft node: its id, where clients reach it and where the controllers vote."""

    node_id: int
    host: str
    port: int
    controller_port: int
    # The SASL_SSL listener's port (deploy.local.kafka_security).
    sasl_port: int
    # How many nodes its cluster has (its name and its files depend on it).
    cluster_size: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def name(self) -> str:
        """``kafka`` for a one-node stack (the name and files it always had), else
        ``kafka-<id>``."""
        return "kafka" if self.cluster_size == 1 else f"kafka-{self.node_id}"


def cluster_nodes(settings: StackSettings) -> tuple[KafkaNode, ...]:
    """The nodes ``settings`` describe, node ids from 1.

    The bootstrap servers either list one address per node, or one address from which the
    others follow (port + 2 per node, as the controller ports do)."""
    count = settings.kafka_brokers
    addresses = [a.strip() for a in settings.kafka.bootstrap_servers.split(",") if a.strip()]
    if len(addresses) not in (1, count):
        raise StackError(
            f"SENTINEL_KAFKA_BOOTSTRAP_SERVERS lists {len(addresses)} addresses for "
            f"{count} Kafka nodes (SENTINEL_STACK_KAFKA_BROKERS): list one, or one per node"
        )
    hosts = [host_port(a, 9092) for a in addresses]
    if len(hosts) == 1:
        host, port = hosts[0]
        hosts = [(host, port + PORT_STRIDE * n) for n in range(count)]
    nodes = tuple(
        KafkaNode(
            n + 1,
            host,
            port,
            settings.kafka_controller_port + PORT_STRIDE * n,
            settings.kafka_sasl_ssl_port + PORT_STRIDE * n,
            count,
        )
        for n, (host, port) in enumerate(hosts)
    )
    _check(nodes)
    return nodes


def _check(nodes: tuple[KafkaNode, ...]) -> None:
    for node in nodes:
        if node.host not in LOOPBACK:
            raise StackError(f"the local Kafka binds to loopback only, not {node.host!r}")
    ports = [p for node in nodes for p in (node.port, node.controller_port, node.sasl_port)]
    if len(set(ports)) != len(ports):
        raise StackError(f"the Kafka nodes' client, controller and SASL_SSL ports collide: {ports}")


def cluster_bootstrap(settings: StackSettings) -> str:
    """Every node's address: what clients of this stack bootstrap from."""
    return ",".join(node.address for node in cluster_nodes(settings))


def sasl_bootstrap(settings: StackSettings) -> str:
    """Every node's SASL_SSL address: what the services' principals bootstrap from."""
    return ",".join(f"{node.host}:{node.sasl_port}" for node in cluster_nodes(settings))


def with_brokers(settings: StackSettings, count: int) -> StackSettings:
    """``settings`` for a cluster of ``count`` nodes: the first node where it was, the others
    after it, and the bootstrap servers listing them all (as the env file then keeps them)."""
    first = settings.kafka.bootstrap_servers.split(",")[0].strip()
    one = settings.model_copy(
        update={
            "kafka_brokers": count,
            "kafka": settings.kafka.model_copy(update={"bootstrap_servers": first}),
        }
    )
    kafka = one.kafka.model_copy(update={"bootstrap_servers": cluster_bootstrap(one)})
    return one.model_copy(update={"kafka": kafka})


def listeners(node: KafkaNode) -> dict[str, str]:
    """Where ``node`` listens, for clients (and the other brokers) and for the controllers."""
    return {
        "listeners": f"PLAINTEXT://{node.address},CONTROLLER://{node.host}:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{node.address}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    }


def replication(cluster_size: int) -> dict[str, str]:
    """Copies of Kafka's own topics and the defaults of any topic created without them:
    3 copies and a write refused below 2 on three nodes, 1 on one (``fitted_replication``,
    the rule ``sentinel topics apply`` fits the declared topics with)."""
    replicas, min_isr = fitted_replication(cluster_size)
    return {
        "offsets.topic.replication.factor": str(replicas),
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": str(min_isr),
        "share.coordinator.state.topic.replication.factor": str(replicas),
        "share.coordinator.state.topic.min.isr": str(min_isr),
        "default.replication.factor": str(replicas),
        "min.insync.replicas": str(min_isr),
    }


def node_properties(
    settings: StackSettings, node: KafkaNode, nodes: tuple[KafkaNode, ...], data_dir: Path
) -> dict[str, str]:
    """``server.properties`` of one combined broker+controller node, as a dict."""
    voters = ",".join(f"{n.node_id}@{n.host}:{n.controller_port}" for n in nodes)
    return {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.voters": voters,
        **listeners(node),
        "log.dirs": str(data_dir),
        # Topics are code (schemas/topics.py); a typo must fail, not create a topic.
        "auto.create.topics.enable": "false",
        "num.partitions": str(settings.kafka_partitions_default),
        **replication(len(nodes)),
        # Only a replica in sync may lead: a record acknowledged by acks=all is never lost
        # to an election (Kafka's default, stated because the fault tests rely on it).
        "unclean.leader.election.enable": "false",
        # Tests start many short-lived consumer groups; don't make each wait 3 s.
        "group.initial.rebalance.delay.ms": "0",
        "delete.topic.enable": "true",
    }


def render_properties(props: Mapping[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in props.items())


def render_server_properties(settings: StackSettings, data_dir: Path, node_id: int = 1) -> str:
    """The ``server.properties`` text of node ``node_id`` of the cluster ``settings`` say."""
    nodes = cluster_nodes(settings)
    node = nodes[node_id - 1]
    return render_properties(node_properties(settings, node, nodes, data_dir))


def formatted_cluster_id(data_dirs: list[Path]) -> str | None:
    """The cluster id a node of this stack was already formatted with, if any: every node
    of one cluster must share it."""
    for data in data_dirs:
        meta = data / "meta.properties"
        if meta.is_file():
            for line in meta.read_text().splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "cluster.id":
                    return value.strip()
    return None
