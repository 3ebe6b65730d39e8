"""The broker configuration the local stack generates."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from deploy.local.kafka import KafkaService, new_cluster_id, render_server_properties
from deploy.local.kafka_cluster import (
    cluster_nodes,
    formatted_cluster_id,
    node_properties,
    with_brokers,
)
from deploy.local.settings import StackSettings
from deploy.local.system import StackError
from schemas.connections import KafkaConnection


def props(settings: StackSettings) -> dict[str, str]:
    text = render_server_properties(settings, Path("/data/kafka"))
    return dict(line.split("=", 1) for line in text.splitlines())


def test_single_kraft_node_on_loopback_without_auto_created_topics() -> None:
    conf = props(StackSettings())
    assert conf["process.roles"] == "broker,controller"
    assert conf["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert conf["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert conf["auto.create.topics.enable"] == "false"
    assert conf["log.dirs"] == "/data/kafka"


def test_ports_follow_the_clients_bootstrap_address() -> None:
    settings = StackSettings(
        kafka=KafkaConnection(bootstrap_servers="127.0.0.1:19092"), kafka_controller_port=19093
    )
    conf = props(settings)
    assert conf["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert conf["controller.quorum.voters"] == "1@127.0.0.1:19093"


def test_refuses_to_bind_beyond_loopback() -> None:
    settings = StackSettings(kafka=KafkaConnection(bootstrap_servers="10.1.2.3:9092"))
    with pytest.raises(StackError, match="loopback"):
        render_server_properties(settings, Path("/data"))


def test_cluster_id_is_sixteen_bytes_of_url_safe_base64() -> None:
    for _ in range(200):
        cluster_id = new_cluster_id()
        assert len(cluster_id) == 22 and not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def cluster_props(settings: StackSettings, node_id: int) -> dict[str, str]:
    nodes = cluster_nodes(settings)
    node = nodes[node_id - 1]
    return node_properties(settings, node, nodes, Path(f"/data/{node.name}"))


def test_three_nodes_take_consecutive_port_pairs_and_vote_together() -> None:
    settings = with_brokers(
        StackSettings(
            kafka=KafkaConnection(bootstrap_servers="127.0.0.1:19092"), kafka_controller_port=19093
        ),
        3,
    )
    assert settings.kafka.bootstrap_servers == "127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096"
    assert [n.name for n in cluster_nodes(settings)] == ["kafka-1", "kafka-2", "kafka-3"]
    voters = "1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097"
    for node_id, port in ((1, 19092), (2, 19094), (3, 19096)):
        conf = cluster_props(settings, node_id)
        assert conf["node.id"] == str(node_id)
        assert conf["controller.quorum.voters"] == voters
        assert conf["advertised.listeners"] == f"PLAINTEXT://127.0.0.1:{port}"
        assert conf["log.dirs"] == f"/data/kafka-{node_id}"


def test_three_nodes_keep_three_copies_of_internal_topics_and_refuse_below_two() -> None:
    conf = cluster_props(with_brokers(StackSettings(), 3), 2)
    assert conf["offsets.topic.replication.factor"] == "3"
    assert conf["transaction.state.log.replication.factor"] == "3"
    assert conf["transaction.state.log.min.isr"] == "2"
    assert conf["min.insync.replicas"] == "2"
    assert conf["default.replication.factor"] == "3"
    assert conf["unclean.leader.election.enable"] == "false"


def test_one_node_keeps_one_copy_and_its_old_name() -> None:
    settings = StackSettings()
    assert [n.name for n in cluster_nodes(settings)] == ["kafka"]
    conf = props(settings)
    assert conf["offsets.topic.replication.factor"] == "1"
    assert conf["transaction.state.log.min.isr"] == "1"


def test_back_to_one_node_from_a_three_node_bootstrap_list() -> None:
    three = with_brokers(StackSettings(), 3)
    assert with_brokers(three, 1).kafka.bootstrap_servers == "127.0.0.1:9092"


def test_a_bootstrap_list_that_fits_no_cluster_size_is_refused() -> None:
    settings = StackSettings(
        kafka=KafkaConnection(bootstrap_servers="127.0.0.1:1,127.0.0.1:2"), kafka_brokers=3
    )
    with pytest.raises(StackError, match="2 addresses for 3 Kafka nodes"):
        cluster_nodes(settings)


def test_colliding_ports_are_refused() -> None:
    settings = StackSettings(
        kafka=KafkaConnection(bootstrap_servers="127.0.0.1:9092"),
        kafka_controller_port=9094,
        kafka_brokers=3,
    )
    with pytest.raises(StackError, match="collide"):
        cluster_nodes(settings)


def test_a_stack_dir_of_one_node_refuses_to_become_three_without_a_purge(tmp_path: Path) -> None:
    (tmp_path / "kafka" / "data").mkdir(parents=True)
    (tmp_path / "kafka" / "data" / "meta.properties").write_text("cluster.id=abc\n")
    three = with_brokers(StackSettings(dir=tmp_path), 3)
    with pytest.raises(StackError, match="down --purge"):
        KafkaService(three).prepare()
    assert formatted_cluster_id([tmp_path / "kafka-1" / "data", tmp_path / "kafka" / "data"]) == (
        "abc"
    )


def test_jvm_options_reach_every_java_the_stack_runs(tmp_path: Path) -> None:
    settings = StackSettings(dir=tmp_path, kafka_jvm_options="-XX:TieredStopAtLevel=1 -Dx=a")
    argv = KafkaService(settings)._java_prefix()  # the broker's and the tools' command line
    assert argv[:3] == ["java", "-XX:TieredStopAtLevel=1", "-Dx=a"]
    assert KafkaService(StackSettings(dir=tmp_path))._java_prefix()[1] == "-Xms256m"
