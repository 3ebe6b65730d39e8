"""Each check of tests/support/k8s_checks.py catches what it is there for: small documents
(the API and two agent workers, their config, budgets, policies, autoscaling) pass every
check, and each mutation below breaks one thing that its check must report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.deployment import IMAGE
from tests.support.k8s_checks import CHECKS, path_problems, secret_problems
from tests.support.k8s_objects import KUBERNETES_VERSIONS, Object, name_of

# Addresses the small documents' services listen on (all interfaces, as in a pod).
ANY = "0.0.0.0"  # noqa: S104 - a manifest's value, nothing binds here


def _pod(
    component: str, container: Object, kind: str = "Deployment", volumes: list[Object] | None = None
) -> Object:
    labels = {"app.kubernetes.io/component": component}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": component},
        "spec": {
            "replicas": 2,
            **({"serviceName": component} if kind == "StatefulSet" else {}),
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [container], "volumes": volumes or []},
            },
        },
    }


def _container(name: str, command: list[str], env: list[Object], port: int) -> Object:
    return {
        "name": name,
        "image": f"{IMAGE}:0.1.0",
        "command": command,
        "ports": [{"name": "http", "containerPort": port}],
        "envFrom": [{"configMapRef": {"name": "sentinel-kafka"}}],
        "env": env,
        "resources": {
            "requests": {"cpu": "100m", "memory": "320Mi"},
            "limits": {"memory": "512Mi"},
        },
        "volumeMounts": [{"name": "ca", "mountPath": "/ca", "readOnly": True}],
    }


def _secret(name: str, secret: str, key: str) -> Object:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _probes(live: str, ready: str, port: str = "http") -> Object:
    return {
        "livenessProbe": {"httpGet": {"path": live, "port": port}},
        "readinessProbe": {"httpGet": {"path": ready, "port": port}},
    }


SMALL_SECRETS = {"sentinel-kafka-users": {"agents", "api"}, "sentinel-kafka-ca": {"ca.pem"}}


def small() -> list[Object]:
    """The API and two agent workers, their config, budgets, policies and autoscaling: all
    checks pass on it."""
    ca = [{"name": "ca", "secret": {"secretName": "sentinel-kafka-ca"}}]
    api = _container(
        "api",
        ["sentinel", "api", "serve"],
        [
            {"name": "SENTINEL_API_HOST", "value": ANY},
            {"name": "SENTINEL_API_PORT", "value": "8000"},
            _secret("SENTINEL_KAFKA_SASL_PASSWORD", "sentinel-kafka-users", "api"),
        ],
        8000,
    ) | _probes("/healthz", "/readyz")
    agents = _container(
        "agents",
        ["sentinel", "agents", "run", "--log-level", "warning"],
        [
            {
                "name": "SENTINEL_AGENTS_INSTANCE_ID",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
            },
            {"name": "SENTINEL_AGENTS_METRICS_PORT", "value": "9100"},
            {"name": "SENTINEL_AGENTS_METRICS_HOST", "value": ANY},
            {"name": "SENTINEL_AGENTS_DATA_DIR", "value": "/data"},
            _secret("SENTINEL_KAFKA_SASL_PASSWORD", "sentinel-kafka-users", "agents"),
        ],
        9100,
    ) | _probes("/metrics", "/metrics")
    agents["volumeMounts"].append({"name": "data", "mountPath": "/data"})
    stateful = _pod("agents", agents, "StatefulSet", ca)
    stateful["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": {}}]
    component = "app.kubernetes.io/component"
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "sentinel-kafka"},
            "data": {
                "SENTINEL_KAFKA_BOOTSTRAP_SERVERS": "kafka:9093",
                "SENTINEL_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "SENTINEL_KAFKA_SSL_CA_FILE": "/ca/ca.pem",
            },
        },
        _pod("api", api, volumes=ca),
        stateful,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "agents"},
            "spec": {
                "clusterIP": "None",
                "selector": {component: "agents"},
                "ports": [{"port": 9100, "targetPort": "http"}],
            },
        },
        *(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": name},
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {component: name}}},
            }
            for name in ("api", "agents")
        ),
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "deny"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "in"},
            "spec": {
                "podSelector": {
                    "matchExpressions": [
                        {"key": component, "operator": "In", "values": ["api", "agents"]}
                    ]
                },
                "policyTypes": ["Ingress"],
                "ingress": [{"ports": [{"protocol": "TCP", "port": "http"}]}],
            },
        },
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": {"name": "agents"},
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": "apps/v1",
                    "kind": "StatefulSet",
                    "name": "agents",
                },
                "minReplicaCount": 2,
                "maxReplicaCount": 12,
                "triggers": [
                    {
                        "type": "kafka",
                        "metadata": {
                            "bootstrapServers": "kafka:9093",
                            "consumerGroup": "sentinel-agents",
                            "topic": "transactions",
                            "lagThreshold": "800",
                            "allowIdleConsumers": "false",
                            "sasl": "scram_sha512",
                            "tls": "enable",
                        },
                        "authenticationRef": {"name": "auth"},
                    }
                ],
            },
        },
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "TriggerAuthentication",
            "metadata": {"name": "auth"},
            "spec": {
                "secretTargetRef": [
                    {"parameter": "password", "name": "sentinel-kafka-users", "key": "agents"}
                ],
                "env": [
                    {
                        "parameter": "username",
                        "name": "SENTINEL_AGENTS_METRICS_HOST",
                        "containerName": "agents",
                    }
                ],
            },
        },
    ]


SMALL_CHECKS: dict[str, Callable[[list[Object]], list[str]]] = CHECKS | {
    "secrets": lambda objs: secret_problems(objs, SMALL_SECRETS),
    "paths": lambda objs: path_problems(objs, SMALL_SECRETS),
}


def find(objs: list[Object], kind: str, name: str = "") -> Object:
    return next(o for o in objs if o["kind"] == kind and (not name or name_of(o) == name))


def container_of(objs: list[Object], name: str) -> Object:
    kind = "StatefulSet" if name == "agents" else "Deployment"
    container: Object = find(objs, kind, name)["spec"]["template"]["spec"]["containers"][0]
    return container


def env_item(objs: list[Object], container: str, name: str) -> Object:
    return next(e for e in container_of(objs, container)["env"] if e["name"] == name)


def _set(target: Object, key: str, value: Any) -> None:
    target[key] = value


def _literal(objs: list[Object], container: str, name: str, value: str) -> None:
    item = env_item(objs, container, name)
    item.clear()
    item.update(name=name, value=value)


MUTATIONS: dict[str, tuple[str, Callable[[list[Object]], None], str]] = {
    "an unknown command": (
        "commands",
        lambda o: _set(container_of(o, "api"), "command", ["sentinel", "api", "serv"]),
        "no command 'serv'",
    ),
    "an unknown option": (
        "commands",
        lambda o: container_of(o, "agents")["command"].append("--once"),
        "No such option",
    ),
    "a misspelt variable": (
        "env",
        lambda o: _set(
            env_item(o, "agents", "SENTINEL_AGENTS_METRICS_HOST"),
            "name",
            "SENTINEL_AGENTS_METRIC_HOST",
        ),
        "SENTINEL_AGENTS_METRIC_HOST is read by no",
    ),
    "a misspelt ConfigMap key": (
        "env",
        lambda o: _set(find(o, "ConfigMap")["data"], "SENTINEL_KAFKA_BOOTSTRAP", "x"),
        "SENTINEL_KAFKA_BOOTSTRAP is read by no",
    ),
    "a missing ConfigMap": (
        "env",
        lambda o: _set(container_of(o, "api")["envFrom"][0]["configMapRef"], "name", "other"),
        "no ConfigMap 'other'",
    ),
    "a probe path not served": (
        "probes",
        lambda o: _set(container_of(o, "agents")["livenessProbe"]["httpGet"], "path", "/healthz"),
        "path /healthz is not served",
    ),
    "the API's readiness on /healthz": (
        "probes",
        lambda o: _set(container_of(o, "api")["readinessProbe"]["httpGet"], "path", "/healthz"),
        "must be /readyz",
    ),
    "a probe on another port": (
        "probes",
        lambda o: _set(container_of(o, "api")["livenessProbe"]["httpGet"], "port", 8001),
        "is not SENTINEL_API_PORT=8000",
    ),
    "metrics on loopback": (
        "probes",
        lambda o: container_of(o, "agents")["env"].remove(
            env_item(o, "agents", "SENTINEL_AGENTS_METRICS_HOST")
        ),
        "listens on loopback",
    ),
    "no readiness probe": (
        "probes",
        lambda o: container_of(o, "api").pop("readinessProbe"),
        "no readinessProbe",
    ),
    "an undeclared topic": (
        "topics",
        lambda o: _set(
            find(o, "ScaledObject")["spec"]["triggers"][0]["metadata"], "topic", "transaction"
        ),
        "topic transaction is not declared",
    ),
    "an undocumented Secret": (
        "secrets",
        lambda o: _set(
            env_item(o, "api", "SENTINEL_KAFKA_SASL_PASSWORD")["valueFrom"]["secretKeyRef"],
            "name",
            "kafka",
        ),
        "Secret 'kafka' is not in",
    ),
    "an undocumented key": (
        "secrets",
        lambda o: _set(
            env_item(o, "api", "SENTINEL_KAFKA_SASL_PASSWORD")["valueFrom"]["secretKeyRef"],
            "key",
            "sink",
        ),
        "no documented key 'sink'",
    ),
    "a literal password": (
        "secrets",
        lambda o: _literal(o, "api", "SENTINEL_KAFKA_SASL_PASSWORD", "hunter2"),
        "is a secret, not read from a Secret",
    ),
    "a Secret with data": (
        "secrets",
        lambda o: o.append(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "dg=="}}
        ),
        "its values in the repository",
    ),
    "a secret in a ConfigMap": (
        "secrets",
        lambda o: _set(find(o, "ConfigMap")["data"], "SENTINEL_REDIS_URL", "redis://x"),
        "is a secret, in a ConfigMap",
    ),
    "an undocumented Secret volume": (
        "secrets",
        lambda o: _set(
            find(o, "Deployment")["spec"]["template"]["spec"]["volumes"][0]["secret"],
            "secretName",
            "ca",
        ),
        "Secret 'ca' is not in",
    ),
    "a CA file not mounted": (
        "paths",
        lambda o: _set(find(o, "ConfigMap")["data"], "SENTINEL_KAFKA_SSL_CA_FILE", "/etc/ca.pem"),
        "is in no mounted volume",
    ),
    "a CA file not in its Secret": (
        "paths",
        lambda o: _set(find(o, "ConfigMap")["data"], "SENTINEL_KAFKA_SSL_CA_FILE", "/ca/root.pem"),
        "no key 'root.pem'",
    ),
    "a data dir read-only": (
        "paths",
        lambda o: container_of(o, "agents")["volumeMounts"][-1].update(readOnly=True),
        "writable, persistent",
    ),
    "no CPU request": (
        "resources",
        lambda o: container_of(o, "api")["resources"]["requests"].pop("cpu"),
        "no cpu request",
    ),
    "no memory limit": (
        "resources",
        lambda o: container_of(o, "agents")["resources"].pop("limits"),
        "no memory limit",
    ),
    "a request above its limit": (
        "resources",
        lambda o: container_of(o, "api")["resources"]["requests"].update(memory="1Gi"),
        "memory request above",
    ),
    "no PDB": (
        "pdbs",
        lambda o: o.remove(find(o, "PodDisruptionBudget", "api")),
        "Deployment/api: no PodDisruptionBudget",
    ),
    "a PDB blocking drains": (
        "pdbs",
        lambda o: find(o, "PodDisruptionBudget", "agents")["spec"].update(
            maxUnavailable=None, minAvailable=2
        ),
        "blocks every drain",
    ),
    "a policy selecting nothing": (
        "network policies",
        lambda o: _set(
            find(o, "NetworkPolicy", "in")["spec"]["podSelector"]["matchExpressions"][0],
            "values",
            ["apis"],
        ),
        "selects no pod",
    ),
    "a policy value matching nothing": (
        "network policies",
        lambda o: find(o, "NetworkPolicy", "in")["spec"]["podSelector"]["matchExpressions"][0][
            "values"
        ].append("sinks"),
        "no pod has app.kubernetes.io/component=sinks",
    ),
    "a policy on a port no pod names": (
        "network policies",
        lambda o: _set(
            find(o, "NetworkPolicy", "in")["spec"]["ingress"][0]["ports"][0], "port", "metrics"
        ),
        "names a port 'metrics'",
    ),
    "no default deny": (
        "network policies",
        lambda o: o.remove(find(o, "NetworkPolicy", "deny")),
        "no default-deny",
    ),
    "a Service selecting nothing": (
        "services",
        lambda o: _set(
            find(o, "Service")["spec"], "selector", {"app.kubernetes.io/component": "agent"}
        ),
        "selects no pod",
    ),
    "a StatefulSet without its headless Service": (
        "services",
        lambda o: find(o, "Service")["spec"].pop("clusterIP"),
        "no headless Service",
    ),
    "an unpinned image": (
        "images",
        lambda o: _set(container_of(o, "api"), "image", IMAGE),
        "not pinned",
    ),
    "latest": (
        "images",
        lambda o: _set(container_of(o, "api"), "image", "redis:latest"),
        "not pinned",
    ),
    "another release": (
        "images",
        lambda o: _set(container_of(o, "api"), "image", f"{IMAGE}:0.0.9"),
        "is not 0.1.0",
    ),
    "a literal instance id": (
        "membership",
        lambda o: _literal(o, "agents", "SENTINEL_AGENTS_INSTANCE_ID", "agent-1"),
        "is not the pod's name",
    ),
    "agents as a Deployment": (
        "membership",
        lambda o: _set(find(o, "StatefulSet"), "kind", "Deployment"),
        "a StatefulSet",
    ),
    "agents in memory": (
        "membership",
        lambda o: container_of(o, "agents")["env"].append(
            {"name": "SENTINEL_AGENTS_STORE", "value": "memory://"}
        ),
        "not on disk",
    ),
    "more agents than partitions": (
        "membership",
        lambda o: find(o, "StatefulSet")["spec"].update(replicas=13),
        "more workers than",
    ),
    "scaling past the partitions": (
        "keda",
        lambda o: find(o, "ScaledObject")["spec"].update(maxReplicaCount=24),
        "not within 1..12",
    ),
    "another group's lag": (
        "keda",
        lambda o: find(o, "ScaledObject")["spec"]["triggers"][0]["metadata"].update(
            consumerGroup="ledger-sink"
        ),
        "not the agents' sentinel-agents",
    ),
    "other brokers": (
        "keda",
        lambda o: find(o, "ScaledObject")["spec"]["triggers"][0]["metadata"].update(
            bootstrapServers="k:9092"
        ),
        "bootstrapServers",
    ),
    "no TLS to the brokers": (
        "keda",
        lambda o: find(o, "ScaledObject")["spec"]["triggers"][0]["metadata"].pop("tls"),
        "SASL_SSL",
    ),
    "idle consumers": (
        "keda",
        lambda o: find(o, "ScaledObject")["spec"]["triggers"][0]["metadata"].pop(
            "allowIdleConsumers"
        ),
        "allowIdleConsumers",
    ),
    "a username from nowhere": (
        "keda",
        lambda o: find(o, "TriggerAuthentication")["spec"]["env"][0].update(name="USER"),
        "USER is not in",
    ),
    "a target that is not there": (
        "keda",
        lambda o: find(o, "ScaledObject")["spec"]["scaleTargetRef"].update(name="agent"),
        "no StatefulSet/agent",
    ),
    "an unknown field": (
        f"schemas {KUBERNETES_VERSIONS[0]}",
        lambda o: find(o, "Deployment")["spec"].update(replica=2),
        "'replica' was unexpected",
    ),
    "a wrong type": (
        f"schemas {KUBERNETES_VERSIONS[-1]}",
        lambda o: container_of(o, "api")["ports"][0].update(containerPort="8000"),
        "is not of type 'integer'",
    ),
}


@pytest.mark.parametrize("check", SMALL_CHECKS)
def test_the_small_documents_pass(check: str) -> None:
    assert SMALL_CHECKS[check](small()) == []


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_each_check_catches_its_defect(mutation: str) -> None:
    check, mutate, expected = MUTATIONS[mutation]
    objs = small()
    mutate(objs)
    problems = SMALL_CHECKS[check](objs)
    assert any(expected in p for p in problems), problems
