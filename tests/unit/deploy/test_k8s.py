"""deploy/k8s against the code: the base and the production overlay, rendered (by
tests/support/kustomize.py, compared with kustomize itself where it is installed), must name
only what the code has: `sentinel` commands that parse, settings variables, the apps' probe
paths and ports, declared topics, documented Secrets; and carry what a production
deployment needs: resources, PDBs, NetworkPolicies that select pods, pinned images, valid
objects (kubernetes-validate's bundled schemas; KEDA's ScaledObject checked by hand).

Each check returns its problems; the last tests break small documents on purpose to show
that each check catches what it is there for.
"""

from __future__ import annotations

import copy
import functools
import itertools
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import kubernetes_validate
import pytest
import yaml

from deploy.local.pipeline import demo_services
from deploy.local.settings import StackSettings
from ingest_api.settings import ApiSettings
from schemas.topics import TRANSACTIONS
from stream_agents.settings import AgentSettings
from tests.support.deployment import (
    REPO,
    cli_problem,
    http_paths,
    path_env_names,
    secret_env_names,
    settings_env_names,
    topic_names,
)
from tests.support.kustomize import build, pod_labels, pod_specs, split_image

Object = dict[str, Any]

K8S = REPO / "deploy" / "k8s"
RENDERS = ("base", "overlays/production")
IMAGE = "ghcr.io/sentinelstream/sentinel"
# The oldest and the newest release the manifests are validated against (CronJob timeZone
# needs 1.27, the StatefulSet's PVC retention policy 1.32).
KUBERNETES_VERSIONS = ("1.35.0", "1.37.0")
# Variables a container may set that no settings model reads, each with its reason. None is
# needed today: every variable the manifests set is a setting.
NON_SETTINGS_ENV: dict[str, str] = {}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
WORKLOADS = {"Deployment", "StatefulSet", "Job", "CronJob"}
LONG_RUNNING = {"Deployment", "StatefulSet"}
CRDS = {("keda.sh/v1alpha1", "ScaledObject"), ("keda.sh/v1alpha1", "TriggerAuthentication")}
# Commands of the demo (deploy/local/pipeline.py) that are not part of a deployment: the
# simulated gateways.
DEMO_ONLY = {"simulate produce", "pipeline http-traffic"}


@functools.cache
def _rendered(name: str) -> tuple[Object, ...]:
    return tuple(build(K8S / name))


def rendered(name: str) -> list[Object]:
    return copy.deepcopy(list(_rendered(name)))


def documented_secrets(path: Path = K8S / "secrets.example.env") -> dict[str, set[str]]:
    """Secret name → its keys, from the blocks of secrets.example.env."""
    secrets: dict[str, set[str]] = {}
    current: set[str] | None = None
    for line in path.read_text().splitlines():
        if m := re.fullmatch(r"# secret: (\S+)", line.strip()):
            current = secrets.setdefault(m[1], set())
        elif line.strip() and not line.startswith("#"):
            assert current is not None, f"{line!r} before any `# secret: NAME`"
            current.add(line.split("=", 1)[0])
    return secrets


# -- reading the objects -------------------------------------------------------------------


def name_of(obj: Object) -> str:
    return str(obj["metadata"]["name"])


def where(obj: Object, container: Object | None = None) -> str:
    return f"{obj['kind']}/{name_of(obj)}" + (f" {container['name']}" if container else "")


def containers(obj: Object) -> Iterator[tuple[Object, Object]]:
    """(pod spec, container) for every container and init container the object runs."""
    for spec in pod_specs(obj):
        for container in spec.get("initContainers", []) + spec.get("containers", []):
            yield spec, container


def ours(objs: list[Object]) -> Iterator[tuple[Object, Object, Object]]:
    """(object, pod spec, container) for every container of our image."""
    for obj in objs:
        for spec, container in containers(obj):
            if split_image(container["image"])[0] == IMAGE:
                yield obj, spec, container


def argv(container: Object) -> list[str]:
    return [*container.get("command", []), *container.get("args", [])]


def words_of(words: list[str] | tuple[str, ...]) -> str:
    """A command's words up to its first option (`agents run`)."""
    return " ".join(itertools.takewhile(lambda w: not w.startswith("-"), words))


def command_words(container: Object) -> str:
    """The command's words after `sentinel`, without its options (`agents run`)."""
    return words_of(argv(container)[1:])


def of_kind(objs: list[Object], kind: str, name: str) -> Object | None:
    return next((o for o in objs if o["kind"] == kind and name_of(o) == name), None)


REF = "<from a reference>"


def env_of(container: Object, objs: list[Object]) -> dict[str, str]:
    """What the container's environment holds: literal values, ConfigMaps' data given by
    envFrom, REF for a value read from a Secret or a field (env overrides envFrom)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            found = of_kind(objs, "ConfigMap", source["configMapRef"]["name"])
            env.update((found or {}).get("data") or {})
        elif "secretRef" in source:
            keys = documented_secrets().get(source["secretRef"]["name"], set())
            env.update(dict.fromkeys(keys, REF))
    for item in container.get("env", []):
        env[item["name"]] = str(item["value"]) if "value" in item else REF
    return env


def matches(selector: Object, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions) against a pod's labels."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        present = key in labels
        ok = {
            "In": present and labels.get(key) in (values or []),
            "NotIn": not present or labels.get(key) not in (values or []),
            "Exists": present,
            "DoesNotExist": not present,
        }[operator]
        if not ok:
            return False
    return True


def pods(objs: list[Object]) -> list[tuple[Object, dict[str, str]]]:
    """Every object that runs pods, with its pods' labels."""
    return [(o, pod_labels(o)) for o in objs if o["kind"] in WORKLOADS]


_UNITS = {
    "m": 0.001,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
}


def quantity(value: str | int | float) -> float:
    """A Kubernetes quantity as a number ("500m" → 0.5, "1Gi" → 2**30)."""
    m = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value))
    if not m or (m[2] and m[2] not in _UNITS):
        raise ValueError(f"not a quantity: {value!r}")
    return float(m[1]) * (_UNITS[m[2]] if m[2] else 1)


# -- the checks -----------------------------------------------------------------------------


def command_problems(objs: list[Object]) -> list[str]:
    """Every container of our image runs a `sentinel` command whose options parse."""
    problems = []
    for obj, _spec, container in ours(objs):
        if (problem := cli_problem(argv(container))) is not None:
            problems.append(f"{where(obj, container)}: {problem}")
    return problems


def env_problems(objs: list[Object]) -> list[str]:
    """Every variable a container of our image is given is one a settings model reads."""
    known = settings_env_names() | set(NON_SETTINGS_ENV)
    problems = []
    for obj, _spec, container in ours(objs):
        for source in container.get("envFrom", []):
            ref = source.get("configMapRef")
            if ref and of_kind(objs, "ConfigMap", ref["name"]) is None:
                problems.append(f"{where(obj, container)}: no ConfigMap {ref['name']!r}")
        for name in env_of(container, objs):
            if name not in known:
                problems.append(f"{where(obj, container)}: {name} is read by no settings model")
    return problems


def _port_number(port: int | str, container: Object) -> int | None:
    if isinstance(port, int):
        return port
    named = [p["containerPort"] for p in container.get("ports", []) if p.get("name") == port]
    return named[0] if named else None


def _probed_app(container: Object, env: dict[str, str]) -> tuple[str, str, int, set[str]]:
    """(host variable, port variable, default port, paths served) of the container's app."""
    words = command_words(container)
    if words == "api serve":
        return "SENTINEL_API_HOST", "SENTINEL_API_PORT", ApiSettings().port, set(http_paths("api"))
    if words == "console run":
        from console.settings import ConsoleSettings

        return (
            "SENTINEL_CONSOLE_HOST",
            "SENTINEL_CONSOLE_PORT",
            ConsoleSettings().port,
            set(http_paths("console")),
        )
    ports = [n for n in env if n.endswith("_METRICS_PORT")]
    if len(ports) != 1:
        return "", "", 0, set()
    return ports[0].removesuffix("_PORT") + "_HOST", ports[0], 0, {"/metrics"}


# The API's probes, by the issue: the process alive, and its dependencies ready.
API_PROBES = {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}


def probe_problems(objs: list[Object]) -> list[str]:
    """Every long-running container of ours has liveness and readiness probes on paths its
    app serves, on the port its settings make it listen on, at an address the kubelet can
    reach (not loopback)."""
    problems = []
    for obj, _spec, container in ours(objs):
        if obj["kind"] not in LONG_RUNNING:
            continue
        at = where(obj, container)
        env = env_of(container, objs)
        host_var, port_var, default_port, paths = _probed_app(container, env)
        if not port_var:
            problems.append(f"{at}: no HTTP endpoint to probe (no one *_METRICS_PORT set)")
            continue
        if host_var not in settings_env_names():
            problems.append(f"{at}: {host_var} is no setting: the port cannot be reached")
        if env.get(host_var, "127.0.0.1") in LOOPBACK:
            problems.append(f"{at}: listens on loopback ({host_var} unset or loopback)")
        expected_port = int(env[port_var]) if port_var in env else default_port
        probes = {
            k: container[k]
            for k in ("livenessProbe", "readinessProbe", "startupProbe")
            if k in container
        }
        for required in ("livenessProbe", "readinessProbe"):
            if required not in probes:
                problems.append(f"{at}: no {required}")
        for kind, probe in probes.items():
            get = probe.get("httpGet")
            if get is None:
                problems.append(f"{at}: {kind} is not an HTTP probe")
                continue
            if get["path"] not in paths:
                problems.append(f"{at}: {kind} path {get['path']} is not served")
            if (
                command_words(container) == "api serve"
                and API_PROBES.get(kind, get["path"]) != get["path"]
            ):
                problems.append(f"{at}: {kind} must be {API_PROBES[kind]}, not {get['path']}")
            if _port_number(get["port"], container) != expected_port:
                problems.append(
                    f"{at}: {kind} port {get['port']} is not {port_var}={expected_port}"
                )
    return problems


def topic_problems(objs: list[Object]) -> list[str]:
    """Every topic a manifest names (a *_TOPIC variable, a KEDA kafka trigger) is declared."""
    problems = []
    for obj, _spec, container in ours(objs):
        env = env_of(container, objs)
        declared = topic_names(env.get("SENTINEL_KAFKA_TOPIC_PREFIX", ""))
        for name, value in env.items():
            if name.endswith("_TOPIC") and value not in declared:
                problems.append(f"{where(obj, container)}: {name}={value} is not declared")
    for obj in objs:
        if obj["kind"] != "ScaledObject":
            continue
        for trigger in obj["spec"].get("triggers", []):
            topic = trigger.get("metadata", {}).get("topic")
            if trigger["type"] == "kafka" and topic not in topic_names(_prefix_of(objs)):
                problems.append(f"{where(obj)}: topic {topic} is not declared")
    return problems


def _prefix_of(objs: list[Object]) -> str:
    kafka = of_kind(objs, "ConfigMap", "sentinel-kafka") or {}
    return str((kafka.get("data") or {}).get("SENTINEL_KAFKA_TOPIC_PREFIX", ""))


def secret_problems(objs: list[Object], documented: dict[str, set[str]]) -> list[str]:
    """Secrets are referenced, never inlined: every reference names a documented Secret and
    key; a secret setting is only ever read from a Secret; no Secret object carries data."""
    problems = []

    def check(at: str, name: str, key: str | None) -> None:
        if name not in documented:
            problems.append(f"{at}: Secret {name!r} is not in secrets.example.env")
        elif key is not None and key not in documented[name]:
            problems.append(f"{at}: Secret {name!r} has no documented key {key!r}")

    for obj in objs:
        if obj["kind"] == "Secret" and (obj.get("data") or obj.get("stringData")):
            problems.append(f"{where(obj)}: a Secret with its values in the repository")
        if obj["kind"] == "ConfigMap":
            for name in set(obj.get("data") or {}) & secret_env_names():
                problems.append(f"{where(obj)}: {name} is a secret, in a ConfigMap")
        if obj["kind"] == "TriggerAuthentication":
            for ref in obj["spec"].get("secretTargetRef", []):
                check(where(obj), ref["name"], ref["key"])
        for spec in pod_specs(obj):
            for volume in spec.get("volumes", []):
                if "secret" in volume:
                    secret = volume["secret"]
                    check(where(obj), secret["secretName"], None)
                    for item in secret.get("items", []):
                        check(where(obj), secret["secretName"], item["key"])
        for _spec, container in containers(obj):
            at = where(obj, container)
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    check(at, source["secretRef"]["name"], None)
            for item in container.get("env", []):
                ref = (item.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    check(at, ref["name"], ref["key"])
                elif item["name"] in secret_env_names():
                    problems.append(f"{at}: {item['name']} is a secret, not read from a Secret")
    return problems


def path_problems(objs: list[Object], documented: dict[str, set[str]]) -> list[str]:
    """Every path a setting names is inside a volume the container mounts: a file from a
    Secret is one of its keys; a data dir is writable and kept (a PVC or a claim template)."""
    problems = []
    for obj, spec, container in ours(objs):
        at = where(obj, container)
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        templates = {t["metadata"]["name"] for t in obj["spec"].get("volumeClaimTemplates", [])}
        for name, value in env_of(container, objs).items():
            if name not in path_env_names() or value == REF:
                continue
            path = PurePosixPath(value)
            mounts = [
                m for m in container.get("volumeMounts", []) if path.is_relative_to(m["mountPath"])
            ]
            if not mounts:
                problems.append(f"{at}: {name}={value} is in no mounted volume")
                continue
            mount = max(mounts, key=lambda m: len(m["mountPath"]))
            volume = volumes.get(mount["name"], {})
            if "secret" in volume:
                key = str(path.relative_to(mount["mountPath"]))
                if key not in documented.get(volume["secret"]["secretName"], set()):
                    problems.append(f"{at}: {name}={value}: no key {key!r} in its Secret")
            if name.endswith("_DATA_DIR") and (
                mount.get("readOnly")
                or ("persistentVolumeClaim" not in volume and mount["name"] not in templates)
            ):
                problems.append(f"{at}: {name} must be on a writable, persistent volume")
    return problems


def resource_problems(objs: list[Object]) -> list[str]:
    """Every container of every workload requests CPU and memory, is limited in memory,
    and requests no more than its limits."""
    problems = []
    for obj in objs:
        if obj["kind"] not in WORKLOADS:
            continue
        for _spec, container in containers(obj):
            at = where(obj, container)
            resources = container.get("resources") or {}
            requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
            for resource in ("cpu", "memory"):
                if resource not in requests:
                    problems.append(f"{at}: no {resource} request")
                elif resource in limits and quantity(requests[resource]) > quantity(
                    limits[resource]
                ):
                    problems.append(f"{at}: {resource} request above its limit")
            if "memory" not in limits:
                problems.append(f"{at}: no memory limit")
    return problems


def pdb_problems(objs: list[Object]) -> list[str]:
    """Every Deployment and StatefulSet has a PodDisruptionBudget that selects its pods and
    lets a drain proceed (minAvailable below its replicas); no budget selects nothing."""
    problems = []
    budgets = [o for o in objs if o["kind"] == "PodDisruptionBudget"]
    for obj in objs:
        if obj["kind"] not in LONG_RUNNING:
            continue
        mine = [b for b in budgets if matches(b["spec"]["selector"], pod_labels(obj))]
        if not mine:
            problems.append(f"{where(obj)}: no PodDisruptionBudget")
        for budget in mine:
            least = budget["spec"].get("minAvailable")
            if isinstance(least, int) and least >= obj["spec"].get("replicas", 1):
                problems.append(f"{where(budget)}: minAvailable {least} blocks every drain")
    for budget in budgets:
        if not any(matches(budget["spec"]["selector"], labels) for _o, labels in pods(objs)):
            problems.append(f"{where(budget)}: selects no pod")
    return problems


def network_policy_problems(objs: list[Object]) -> list[str]:
    """A default deny, and every other policy selects pods that exist (each value of its
    `In` expressions too), on ports those pods name."""
    problems = []
    policies = [o for o in objs if o["kind"] == "NetworkPolicy"]
    if not any(
        p["spec"]["podSelector"] == {}
        and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
        for p in policies
    ):
        problems.append("no default-deny NetworkPolicy (empty podSelector, Ingress and Egress)")
    all_pods = pods(objs)
    for policy in policies:
        selector = policy["spec"]["podSelector"]
        if selector == {}:
            continue
        selected = [(o, labels) for o, labels in all_pods if matches(selector, labels)]
        if not selected:
            problems.append(f"{where(policy)}: selects no pod")
        for expression in selector.get("matchExpressions") or []:
            for value in expression.get("values") or []:
                if expression["operator"] == "In" and not any(
                    labels.get(expression["key"]) == value for _o, labels in all_pods
                ):
                    problems.append(f"{where(policy)}: no pod has {expression['key']}={value}")
        named = {
            p["name"]
            for o, _l in selected
            for _s, c in containers(o)
            for p in c.get("ports", [])
            if "name" in p
        }
        for rule in policy["spec"].get("ingress", []):
            for port in rule.get("ports", []):
                if isinstance(port.get("port"), str) and port["port"] not in named:
                    problems.append(
                        f"{where(policy)}: no selected pod names a port {port['port']!r}"
                    )
    return problems


def service_problems(objs: list[Object]) -> list[str]:
    """Every Service selects pods and targets ports they name; a StatefulSet's serviceName
    is a headless Service of its pods."""
    problems = []
    for service in (o for o in objs if o["kind"] == "Service"):
        selected = [
            o
            for o, labels in pods(objs)
            if matches({"matchLabels": service["spec"]["selector"]}, labels)
        ]
        if not selected:
            problems.append(f"{where(service)}: selects no pod")
        named = {
            p["name"]
            for o in selected
            for _s, c in containers(o)
            for p in c.get("ports", [])
            if "name" in p
        }
        for port in service["spec"]["ports"]:
            if isinstance(port.get("targetPort"), str) and port["targetPort"] not in named:
                problems.append(f"{where(service)}: no pod names a port {port['targetPort']!r}")
    for obj in (o for o in objs if o["kind"] == "StatefulSet"):
        service = of_kind(objs, "Service", obj["spec"]["serviceName"])
        if service is None or service["spec"].get("clusterIP") != "None":
            problems.append(f"{where(obj)}: its serviceName is no headless Service")
        elif not matches({"matchLabels": service["spec"]["selector"]}, pod_labels(obj)):
            problems.append(f"{where(obj)}: its headless Service selects other pods")
    return problems


def image_problems(objs: list[Object], version: str = "0.1.0") -> list[str]:
    """Every image is pinned (a tag other than latest, or a digest); ours is the release's."""
    problems = []
    for obj in objs:
        for _spec, container in containers(obj):
            name, tag, digest = split_image(container["image"])
            if digest is None and tag in (None, "latest"):
                problems.append(f"{where(obj, container)}: image {container['image']} not pinned")
            elif name == IMAGE and digest is None and tag != version:
                problems.append(f"{where(obj, container)}: {container['image']} is not {version}")
    return problems


def membership_problems(objs: list[Object]) -> list[str]:
    """Static membership ids come from the pod's name (never a literal that replicas would
    share and fence each other with); the agents keep their rocksdb store in a claim of their
    own and are no more than the transactions topic has partitions."""
    problems = []
    for obj, _spec, container in ours(objs):
        at = where(obj, container)
        for item in container.get("env", []):
            field = ((item.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
            if item["name"].endswith("_INSTANCE_ID") and field != "metadata.name":
                problems.append(f"{at}: {item['name']} is not the pod's name")
        if command_words(container) != "agents run":
            continue
        env = env_of(container, objs)
        if obj["kind"] != "StatefulSet":
            problems.append(f"{at}: the agents need a stable identity: a StatefulSet")
        if "SENTINEL_AGENTS_INSTANCE_ID" not in env:
            problems.append(f"{at}: no SENTINEL_AGENTS_INSTANCE_ID: dynamic membership")
        if env.get("SENTINEL_AGENTS_STORE", AgentSettings().store) != "rocksdb://":
            problems.append(f"{at}: the agents' store is not on disk")
        if obj["spec"].get("replicas", 1) > TRANSACTIONS.partitions:
            problems.append(f"{at}: more workers than the {TRANSACTIONS.partitions} partitions")
        if (
            int(env.get("SENTINEL_AGENTS_TABLE_PARTITIONS", TRANSACTIONS.partitions))
            != TRANSACTIONS.partitions
        ):
            problems.append(f"{at}: SENTINEL_AGENTS_TABLE_PARTITIONS is not the transactions'")
    return problems


# KafkaConnection's SASL mechanisms in the KEDA kafka scaler's words.
KEDA_SASL = {"SCRAM-SHA-512": "scram_sha512", "SCRAM-SHA-256": "scram_sha256", "PLAIN": "plaintext"}


def keda_problems(objs: list[Object]) -> list[str]:
    """A ScaledObject, checked structurally (no schema for it here): it scales the agents'
    StatefulSet on the lag of their own group on a declared topic, over the same brokers and
    security as the workers, within the transactions topic's partitions."""
    problems = []
    for scaled in (o for o in objs if o["kind"] == "ScaledObject"):
        at, spec = where(scaled), scaled["spec"]
        if scaled["apiVersion"] != "keda.sh/v1alpha1":
            problems.append(f"{at}: apiVersion {scaled['apiVersion']}")
        ref = spec["scaleTargetRef"]
        target = of_kind(objs, ref.get("kind", "Deployment"), ref["name"])
        if target is None:
            problems.append(f"{at}: no {ref.get('kind', 'Deployment')}/{ref['name']} to scale")
            continue
        container = next(
            (c for _s, c in containers(target) if command_words(c) == "agents run"), None
        )
        if container is None:
            problems.append(f"{at}: its target runs no agent worker")
            continue
        env = env_of(container, objs)
        least, most = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
        if not 1 <= least <= most <= TRANSACTIONS.partitions:
            problems.append(
                f"{at}: replicas {least}..{most} not within 1..{TRANSACTIONS.partitions}"
            )
        if not least <= target["spec"].get("replicas", 1) <= most:
            problems.append(f"{at}: {where(target)} starts outside {least}..{most}")
        kafka = [t for t in spec.get("triggers", []) if t["type"] == "kafka"]
        if len(kafka) != 1:
            problems.append(f"{at}: {len(kafka)} kafka triggers")
            continue
        meta = kafka[0]["metadata"]
        group = env.get("SENTINEL_KAFKA_TOPIC_PREFIX", "") + env.get(
            "SENTINEL_AGENTS_APP_ID", AgentSettings().app_id
        )
        if meta.get("consumerGroup") != group:
            problems.append(
                f"{at}: consumerGroup {meta.get('consumerGroup')} is not the agents' {group}"
            )
        if meta.get("topic") != TRANSACTIONS.name:
            problems.append(f"{at}: lag of {meta.get('topic')}, not of what the agents consume")
        if meta.get("bootstrapServers") != env.get("SENTINEL_KAFKA_BOOTSTRAP_SERVERS"):
            problems.append(f"{at}: bootstrapServers are not the workers'")
        if not str(meta.get("lagThreshold", "")).isdigit() or int(meta["lagThreshold"]) < 1:
            problems.append(f"{at}: lagThreshold {meta.get('lagThreshold')!r}")
        if meta.get("allowIdleConsumers") != "false":
            problems.append(
                f"{at}: allowIdleConsumers must be false (workers beyond partitions idle)"
            )
        if env.get("SENTINEL_KAFKA_SECURITY_PROTOCOL") == "SASL_SSL":
            mechanism = KEDA_SASL[env.get("SENTINEL_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")]
            if meta.get("sasl") != mechanism or meta.get("tls") != "enable":
                problems.append(f"{at}: sasl/tls are not the workers' SASL_SSL {mechanism}")
        auth = of_kind(
            objs, "TriggerAuthentication", kafka[0].get("authenticationRef", {}).get("name", "")
        )
        if auth is None:
            problems.append(f"{at}: no TriggerAuthentication")
            continue
        for item in auth["spec"].get("env", []):
            named = of_kind([target], target["kind"], name_of(target))
            names = {
                e["name"]
                for _s, c in containers(named or {})
                if c["name"] == item.get("containerName")
                for e in c.get("env", [])
            }
            if item["name"] not in names:
                problems.append(
                    f"{where(auth)}: {item['name']} is not in {item.get('containerName')}'s env"
                )
    return problems


def schema_problems(objs: list[Object], version: str) -> list[str]:
    """Every object valid against Kubernetes' own schemas (unknown fields refused); custom
    resources must be of a known kind (keda_problems checks them)."""
    problems = []
    for obj in objs:
        if (obj["apiVersion"], obj["kind"]) in CRDS:
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{where(obj)}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{where(obj)}: no schema for {obj['apiVersion']} {obj['kind']}")
    return problems


CHECKS: dict[str, Callable[[list[Object]], list[str]]] = {
    "commands": command_problems,
    "env": env_problems,
    "probes": probe_problems,
    "topics": topic_problems,
    "secrets": lambda objs: secret_problems(objs, documented_secrets()),
    "paths": lambda objs: path_problems(objs, documented_secrets()),
    "resources": resource_problems,
    "pdbs": pdb_problems,
    "network policies": network_policy_problems,
    "services": service_problems,
    "images": image_problems,
    "membership": membership_problems,
    "keda": keda_problems,
}
for _version in KUBERNETES_VERSIONS:
    CHECKS[f"schemas {_version}"] = functools.partial(schema_problems, version=_version)


# -- the manifests -------------------------------------------------------------------------


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("render", RENDERS)
def test_manifests_pass(render: str, check: str) -> None:
    assert CHECKS[check](rendered(render)) == []


def kustomize_binary() -> str | None:
    local = REPO / ".stack" / "tools" / "bin" / "kustomize"
    return str(local) if local.exists() else shutil.which("kustomize")


@pytest.mark.skipif(
    kustomize_binary() is None,
    reason="kustomize not installed (optional: the structural render above is the check; "
    "see deploy/k8s/README.md, Validation)",
)
@pytest.mark.parametrize("render", RENDERS)
def test_structural_render_is_kustomize_s(render: str) -> None:
    out = subprocess.run(
        [str(kustomize_binary()), "build", str(K8S / render)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    by_name = {(o["kind"], name_of(o)): o for o in yaml.safe_load_all(out) if o}
    assert {(o["kind"], name_of(o)): o for o in rendered(render)} == by_name


def test_every_service_of_the_demo_runs_with_its_settings() -> None:
    """What deploy/local/pipeline.py runs (but the simulated gateways), each with the
    variables it sets there (values aside: paths and ids are the cluster's own)."""
    demo: dict[str, set[str]] = {}
    for spec in demo_services(StackSettings(), 100.0, Path("/registry")):
        # The demo's workers run `python -m stream_agents run`, the lean entry of `agents run`.
        words = "agents run" if "stream_agents" in spec.argv else words_of(spec.argv[1:])
        if words not in DEMO_ONLY:
            demo.setdefault(words, set()).update(spec.env)
    for render in RENDERS:
        objs = rendered(render)
        deployed = {command_words(c): env_of(c, objs) for _o, _s, c in ours(objs)}
        for words, env in demo.items():
            assert words in deployed, f"{render}: `sentinel {words}` is not deployed"
            # The console is given its registry under its own name (SENTINEL_CONSOLE_MODEL_REGISTRY).
            missing = {
                n
                for n in env - set(deployed[words])
                if not (words == "console run" and n == "SENTINEL_AGENTS_MODEL_REGISTRY")
            }
            assert not missing, f"{render}: `sentinel {words}` lacks {sorted(missing)}"


def test_one_shot_steps() -> None:
    """Migrations and topics as Jobs (idempotent commands), merchant risk as a CronJob of one
    hour a run (the command without --once never exits)."""
    objs = rendered("base")
    by_kind = {
        (o["kind"], command_words(c) + (" --once" if "--once" in argv(c) else ""))
        for o, _s, c in ours(objs)
    }
    assert {("Job", "db migrate"), ("Job", "db roles"), ("Job", "topics apply")} <= by_kind
    assert ("CronJob", "merchant-risk run --once") in by_kind


def test_every_documented_secret_is_used() -> None:
    objs = rendered("overlays/production")
    used: set[tuple[str, str]] = set()
    for obj in objs:
        for spec in pod_specs(obj):
            for volume in spec.get("volumes", []):
                if "secret" in volume:
                    used |= {
                        (volume["secret"]["secretName"], k)
                        for k in documented_secrets()[volume["secret"]["secretName"]]
                    }
        for _s, container in containers(obj):
            for item in container.get("env", []):
                if ref := (item.get("valueFrom") or {}).get("secretKeyRef"):
                    used.add((ref["name"], ref["key"]))
    documented = {(name, key) for name, keys in documented_secrets().items() for key in keys}
    assert documented - used == set()


def test_the_production_overlay() -> None:
    base, prod = rendered("base"), rendered("overlays/production")
    assert {o["metadata"].get("namespace") for o in prod} == {"sentinel"}
    assert of_kind(base, "ScaledObject", "agents") is None
    scaled = of_kind(prod, "ScaledObject", "agents")
    assert scaled is not None and scaled["spec"]["scaleTargetRef"]["name"] == "agents"
    agents = of_kind(prod, "StatefulSet", "agents")
    assert agents is not None and agents["spec"]["replicas"] == scaled["spec"]["minReplicaCount"]
    for kind, name in (("Deployment", "api"), ("StatefulSet", "agents"), ("Deployment", "sink")):
        before, after = of_kind(base, kind, name), of_kind(prod, kind, name)
        assert before is not None and after is not None
        assert after["spec"]["replicas"] > before["spec"]["replicas"]
        assert next(containers(after))[1]["resources"] != next(containers(before))[1]["resources"]


# -- the checks catch what they are for ----------------------------------------------------


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
            {"name": "SENTINEL_API_HOST", "value": "0.0.0.0"},
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
            {"name": "SENTINEL_AGENTS_METRICS_HOST", "value": "0.0.0.0"},
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
    return find(objs, kind, name)["spec"]["template"]["spec"]["containers"][0]


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


def test_the_structural_render_refuses_what_it_does_not_know(tmp_path: Path) -> None:
    from tests.support.kustomize import Unsupported

    (tmp_path / "kustomization.yaml").write_text("resources: [a.yaml]\ncommonLabels: {a: b}\n")
    with pytest.raises(Unsupported, match="commonLabels"):
        build(tmp_path)
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(small()[3]))
    (tmp_path / "p.yaml").write_text(
        "kind: Service\nmetadata: {name: agents}\nspec:\n  ports: [{port: 1}]\n"
    )
    (tmp_path / "kustomization.yaml").write_text("resources: [a.yaml]\npatches: [{path: p.yaml}]\n")
    with pytest.raises(Unsupported, match="'ports'"):
        build(tmp_path)
