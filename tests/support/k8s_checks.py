"""The checks of deploy/k8s against the code, each a function of the rendered objects that
returns its problems (none: the check passes); tests/unit/deploy/test_k8s.py runs them on
the base and the overlay, test_k8s_checks.py shows each catching its defect."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import PurePosixPath

import kubernetes_validate  # type: ignore[import-untyped]

from ingest_api.settings import ApiSettings
from schemas.topics import TRANSACTIONS
from stream_agents.settings import AgentSettings
from tests.support.deployment import (
    IMAGE,
    VERSION,
    cli_problem,
    http_paths,
    path_env_names,
    secret_env_names,
    settings_env_names,
    topic_names,
)
from tests.support.k8s_objects import (
    CRDS,
    KUBERNETES_VERSIONS,
    LONG_RUNNING,
    LOOPBACK,
    NON_SETTINGS_ENV,
    REF,
    WORKLOADS,
    Object,
    argv,
    command_words,
    containers,
    documented_secrets,
    env_of,
    matches,
    name_of,
    of_kind,
    ours,
    pod_labels,
    pod_specs,
    pods,
    quantity,
    split_image,
    where,
)


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
        headless = of_kind(objs, "Service", obj["spec"]["serviceName"])
        if headless is None or headless["spec"].get("clusterIP") != "None":
            problems.append(f"{where(obj)}: its serviceName is no headless Service")
        elif not matches({"matchLabels": headless["spec"]["selector"]}, pod_labels(obj)):
            problems.append(f"{where(obj)}: its headless Service selects other pods")
    return problems


def image_problems(objs: list[Object], version: str = VERSION) -> list[str]:
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
