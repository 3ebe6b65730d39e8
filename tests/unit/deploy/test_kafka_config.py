"""The broker configuration the local stack generates."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from deploy.local.kafka import new_cluster_id, render_server_properties
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
