"""Topics as code: create the topics ``schemas.topics`` declares and report drift, never delete."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from confluent_kafka import KafkaException
from confluent_kafka.admin import ConfigResource, NewTopic

from schemas import kafka_edge
from schemas.connections import KafkaConnection
from schemas.topics import TopicSpec


@dataclass(frozen=True, slots=True)
class ObservedTopic:
    """A topic as the cluster reports it."""

    name: str
    partitions: int
    replication_factor: int
    config: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class TopicReport:
    name: str
    status: str  # "created", "ok" or "drift"
    drift: tuple[str, ...] = field(default=())


def drift(spec: TopicSpec, observed: ObservedTopic) -> tuple[str, ...]:
    """What differs between the declared and the live topic, one sentence per difference.

    Only declared config keys are compared: broker defaults for the rest are not drift.
    """
    found = []
    if observed.partitions != spec.partitions:
        found.append(f"partitions {observed.partitions}, declared {spec.partitions}")
    if observed.replication_factor != spec.replication_factor:
        found.append(
            f"replication factor {observed.replication_factor}, declared {spec.replication_factor}"
        )
    for key, wanted in sorted(spec.config.items()):
        actual = observed.config.get(key)
        if actual != wanted:
            found.append(f"{key}={actual}, declared {wanted}")
    return tuple(found)


class TopicAdmin:
    """The only place that creates or inspects topics, through Kafka's admin API."""

    def __init__(self, kafka: KafkaConnection, timeout_s: float = 30.0) -> None:
        self.admin = kafka_edge.admin(kafka)
        self.timeout_s = timeout_s

    def broker_count(self) -> int:
        return len(self.admin.list_topics(timeout=self.timeout_s).brokers)

    def await_visible(self, names: Iterable[str]) -> None:
        """Wait until the broker's metadata lists ``names`` with a leader for every partition.

        CreateTopics returns before the broker's metadata cache has caught up; a client
        that produces or describes the topic straight away would not find it.
        """
        wanted = set(names)
        deadline = time.monotonic() + self.timeout_s
        while wanted and time.monotonic() < deadline:
            topics = self.admin.list_topics(timeout=self.timeout_s).topics
            wanted = {
                name
                for name in wanted
                if name not in topics
                or topics[name].error is not None
                or any(p.leader < 0 for p in topics[name].partitions.values())
            }
            if wanted:
                time.sleep(0.05)
        if wanted:
            raise TimeoutError(f"topics not visible after {self.timeout_s} s: {sorted(wanted)}")

    def observe(self, names: Iterable[str]) -> dict[str, ObservedTopic]:
        """The live state of those of ``names`` that exist."""
        metadata = self.admin.list_topics(timeout=self.timeout_s).topics
        present = [name for name in names if name in metadata]
        if not present:
            return {}
        resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in present]
        configs = self.admin.describe_configs(resources, request_timeout=self.timeout_s)
        observed = {}
        for resource, future in configs.items():
            entries = future.result(timeout=self.timeout_s)
            partitions = metadata[resource.name].partitions
            replicas = len(next(iter(partitions.values())).replicas) if partitions else 0
            observed[resource.name] = ObservedTopic(
                resource.name,
                len(partitions),
                replicas,
                {key: entry.value for key, entry in entries.items()},
            )
        return observed

    def create(self, specs: Iterable[TopicSpec]) -> list[str]:
        """Create the given topics; returns those this call created (not those that
        another client created meanwhile)."""
        new = [
            NewTopic(s.name, s.partitions, s.replication_factor, config=dict(s.config))
            for s in specs
        ]
        if not new:
            return []
        created = []
        for name, future in self.admin.create_topics(new, request_timeout=self.timeout_s).items():
            try:
                future.result(timeout=self.timeout_s)
            except KafkaException as exc:
                if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                    raise
                continue
            created.append(name)
        self.await_visible(f.topic for f in new)
        return created

    def delete(self, names: Iterable[str]) -> None:
        """For tests tearing down the topics they own; ``apply`` never deletes. A topic that
        is already gone counts as deleted: two teardowns may both own the agents' changelog
        (a declared topic, and the one a worker's table makes)."""
        # Once each: the broker refuses a request naming a topic twice.
        unique = list(dict.fromkeys(names))
        if not unique:
            return
        futures = self.admin.delete_topics(unique, request_timeout=self.timeout_s)
        for future in futures.values():
            try:
                future.result(timeout=self.timeout_s)
            except KafkaException as exc:
                if exc.args[0].name() != "UNKNOWN_TOPIC_OR_PART":
                    raise


def apply(admin: TopicAdmin, declared: Iterable[TopicSpec]) -> list[TopicReport]:
    """Create missing topics, report drift on the others; fitted to the cluster's size."""
    brokers = admin.broker_count()
    specs = [spec.fit_to_cluster(brokers) for spec in declared]
    observed = admin.observe(spec.name for spec in specs)
    created = set(admin.create(s for s in specs if s.name not in observed))
    raced = [s.name for s in specs if s.name not in observed and s.name not in created]
    if raced:  # created by someone else since we looked
        observed.update(admin.observe(raced))
    reports = []
    for spec in specs:
        if spec.name in created:
            reports.append(TopicReport(spec.name, "created"))
            continue
        differences = drift(spec, observed[spec.name])
        reports.append(TopicReport(spec.name, "drift" if differences else "ok", differences))
    return reports
