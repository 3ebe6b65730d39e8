"""Settings for a Kafka broker or cluster of a test's own, beside the running stack.

Every listener of every node (client, controller, SASL_SSL) takes a free loopback port:
a private broker left on a default port (the stack's 9192 SASL_SSL one, say) cannot bind.
"""

from __future__ import annotations

from pathlib import Path

from deploy.local.settings import StackSettings
from schemas.connections import KafkaConnection
from tests.support.ports import free_port_block

# For brokers that live a test long: the quick JIT compiler only, half the CPU of a start
# (SENTINEL_STACK_KAFKA_JVM_OPTIONS).
QUICK_JVM = "-XX:TieredStopAtLevel=1"


def private_kafka_settings(root: Path, brokers: int = 1, heap: str = "384m") -> StackSettings:
    """A stack in ``root`` whose ``brokers`` nodes listen on free ports only: node n (from
    0) on base + 2n (clients) and + 1 (controllers), and on base + 2 * brokers + 2n
    (SASL_SSL), by the stack's own + 2n rule."""
    base = free_port_block(4 * brokers)
    return StackSettings(
        dir=root,
        kafka=KafkaConnection(bootstrap_servers=f"127.0.0.1:{base}"),
        kafka_controller_port=base + 1,
        kafka_sasl_ssl_port=base + 2 * brokers,
        kafka_brokers=brokers,
        kafka_heap=heap,
        kafka_jvm_options=QUICK_JVM,
    )
