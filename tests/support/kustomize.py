"""`kustomize build` for the fields deploy/k8s uses, applied structurally in Python, so the
manifests' tests render the base and the production overlay on a machine (or CI) without
kustomize (installing it from the Go module proxy took ~110 s here: deploy/k8s/README.md).

What it applies, as kustomize does: ``resources`` (files and kustomization folders, in
order), ``patches`` (strategic-merge patch files, each document targeting the one object of
its kind and name), ``replicas``, ``images`` (``newName``/``newTag``/``digest`` on every
container and init container) and ``namespace`` (on every namespaced object). Anything else
in a kustomization, or a patch needing more than the strategic-merge rules below, is
refused rather than guessed: extend this module (and compare with kustomize itself,
tests/unit/deploy/test_k8s.py does where kustomize is installed) before using it.

Strategic merge, as Kubernetes defines it for the lists the patches touch: maps merge key
by key, a null deletes the key, lists of containers, init containers, env, volumes (by
``name``) and volume mounts (by ``mountPath``) merge item by item, the lists in
``REPLACED`` are replaced whole.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

Object = dict[str, Any]

FIELDS = {"apiVersion", "kind", "resources", "patches", "replicas", "images", "namespace"}
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
}
# Lists without a merge key in the Kubernetes API (a patch replaces them).
REPLACED = {"egress", "ingress", "command", "args", "accessModes", "except"}
SCALABLE = {"Deployment", "StatefulSet", "ReplicaSet"}
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
}


class Unsupported(ValueError):
    """The kustomization asks for something this stand-in does not do."""


def load_all(path: Path) -> list[Object]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def build(folder: Path) -> list[Object]:
    """The objects ``kustomize build folder`` would print (in the resources' order)."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    unknown = set(kustomization) - FIELDS
    if unknown:
        raise Unsupported(f"{folder}: kustomization fields not supported: {sorted(unknown)}")
    objects: list[Object] = []
    for entry in kustomization.get("resources", []):
        path = folder / entry
        objects += build(path) if path.is_dir() else load_all(path)
    for patch in kustomization.get("patches", []):
        if set(patch) != {"path"}:
            raise Unsupported(f"{folder}: only `patches: - path: FILE` is supported: {patch}")
        for doc in load_all(folder / patch["path"]):
            target = only(objects, doc["kind"], doc["metadata"]["name"])
            objects[objects.index(target)] = merge(target, doc)
    for entry in kustomization.get("replicas", []):
        targets = [o for o in objects if o["kind"] in SCALABLE and name_of(o) == entry["name"]]
        if not targets:
            raise Unsupported(f"{folder}: replicas for {entry['name']!r}: no such workload")
        for target in targets:
            target["spec"]["replicas"] = entry["count"]
    for entry in kustomization.get("images", []):
        set_image(objects, entry)
    if "namespace" in kustomization:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = kustomization["namespace"]
    return objects


def name_of(obj: Object) -> str:
    return str(obj["metadata"]["name"])


def only(objects: list[Object], kind: str, name: str) -> Object:
    found = [o for o in objects if o["kind"] == kind and name_of(o) == name]
    if len(found) != 1:
        raise Unsupported(f"a patch targets {kind}/{name}: {len(found)} such objects")
    return found[0]


def merge(base: Any, patch: Any, key: str = "") -> Any:
    """``patch`` applied to ``base`` by the strategic-merge rules above (a new object)."""
    if isinstance(patch, dict) and isinstance(base, dict):
        if any(k.startswith("$") for k in patch):
            raise Unsupported(f"patch directives are not supported: {sorted(patch)}")
        merged = copy.deepcopy(base)
        for k, value in patch.items():
            if value is None:
                merged.pop(k, None)
            else:
                merged[k] = merge(base.get(k), value, k) if k in base else copy.deepcopy(value)
        return merged
    if isinstance(patch, list) and isinstance(base, list):
        if key in REPLACED:
            return copy.deepcopy(patch)
        if key not in MERGE_KEYS:
            raise Unsupported(f"a patch of the list {key!r}: its merge rule is not known here")
        by = MERGE_KEYS[key]
        merged_list = copy.deepcopy(base)
        for item in patch:
            at = [i for i, old in enumerate(merged_list) if old.get(by) == item.get(by)]
            if at:
                merged_list[at[0]] = merge(merged_list[at[0]], item)
            else:
                merged_list.append(copy.deepcopy(item))
        return merged_list
    return copy.deepcopy(patch)


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


def set_image(objects: list[Object], entry: dict[str, str]) -> None:
    for obj in objects:
        for spec in pod_specs(obj):
            for container in spec.get("containers", []) + spec.get("initContainers", []):
                name, tag, _digest = split_image(container["image"])
                if name != entry["name"]:
                    continue
                name = entry.get("newName", name)
                if "digest" in entry:
                    container["image"] = f"{name}@{entry['digest']}"
                else:
                    container["image"] = f"{name}:{entry.get('newTag', tag)}"
