"""The GitHub Actions workflows (.github/workflows/): actionlint, then what CI must run.

actionlint (the Makefile builds the pinned version with Go into the virtualenv) checks the
syntax, the expressions, the actions' inputs and, through the dev extra's shellcheck, every
`run:` script. The structural checks say what it cannot: the test job runs `.ci/run` (the
project's CI command) on Python 3.11 and Java 17 within a time limit, an audit job runs
`make audit` with its advisory data required, an image job builds `Containerfile`, every
action is pinned (a commit with its release in a comment, or an exact version; never a
branch) and the workflow reads only, unless a job that runs on version tags alone says
otherwise. Each check is shown to fail on a document broken on purpose.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from packaging.specifiers import SpecifierSet

from tests.support.deployment import IMAGE, PROJECT, REPO

WORKFLOWS = sorted([*REPO.glob(".github/workflows/*.yml"), *REPO.glob(".github/workflows/*.yaml")])
CI = REPO / ".github" / "workflows" / "ci.yml"
CI_COMMAND = "bash .ci/run"  # how the project's CI runs its tests
PYTHON, JAVA = "3.11", "17"
CI_MINUTES = 90  # the project's CI gives .ci/run this long

SHA = re.compile(r"[0-9a-f]{40}")
EXACT_VERSION = re.compile(r"v?\d+\.\d+\.\d+")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)\s*(?:#\s*(?P<note>\S+))?")

Doc = dict[str, Any]


def tool(name: str) -> Path | None:
    """The virtualenv's own copy first (what `make` installs), else one on PATH."""
    beside = Path(sys.executable).with_name(name)
    if beside.is_file():
        return beside
    found = shutil.which(name)
    return Path(found) if found else None


def pinned_actionlint_version() -> str:
    found = re.search(r"^ACTIONLINT_VERSION := (\S+)$", (REPO / "Makefile").read_text(), re.M)
    assert found, "the Makefile pins no ACTIONLINT_VERSION"
    return found.group(1)


@pytest.fixture(scope="module")
def actionlint() -> Iterator[Callable[..., subprocess.CompletedProcess[str]]]:
    binary, shellcheck = tool("actionlint"), tool("shellcheck")
    if binary is None:
        pytest.fail("actionlint is not installed: `make lint` (or `make test-unit`) builds it")
    if shellcheck is None:
        pytest.fail("shellcheck is not installed: it is in pyproject's dev extra")
    shown = subprocess.run(  # noqa: S603 - the binary found above
        [str(binary), "-version"], capture_output=True, text=True, check=True
    )
    wanted = pinned_actionlint_version()
    assert shown.stdout.split()[0] == f"v{wanted}", f"{binary}: {shown.stdout}, want v{wanted}"

    def run(*paths: Path) -> subprocess.CompletedProcess[str]:
        argv = [str(binary), "-no-color", f"-shellcheck={shellcheck}", *map(str, paths)]
        return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)  # noqa: S603

    yield run


def load(text: str) -> Doc:
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict)
    if True in doc:  # YAML 1.1 reads the key `on` as a boolean
        doc["on"] = doc.pop(True)
    return doc


def steps(job: Doc) -> list[Doc]:
    return list(job.get("steps") or [])


def action(step: Doc) -> str:
    """The action a step uses, without its ref: ``actions/checkout``."""
    return str(step.get("uses", "")).partition("@")[0]


def uses_of(doc: Doc) -> set[str]:
    """Every `uses:` of a parsed workflow: steps' actions and jobs' reusable workflows."""
    found = set()
    for job in doc["jobs"].values():
        if "uses" in job:
            found.add(str(job["uses"]))
        found.update(str(step["uses"]) for step in steps(job) if "uses" in step)
    return found


def pin_problems(text: str) -> list[str]:
    """Every `uses:` not pinned to a commit (with its release in a comment) or an exact version."""
    problems = []
    seen = set()
    for number, line in enumerate(text.splitlines(), 1):
        match = USES_LINE.match(line)
        if match is None:
            continue
        ref, note = match.group("ref"), match.group("note")
        seen.add(ref)
        where = f"line {number}: {ref}"
        if ref.startswith("./"):
            continue  # an action or workflow of this repository, at this commit
        if ref.startswith("docker://"):
            if "@sha256:" not in ref:
                problems.append(f"{where}: a container action without its digest")
            continue
        name, _, version = ref.partition("@")
        if not version:
            problems.append(f"{where}: no ref at all")
        elif SHA.fullmatch(version):
            if note is None or not EXACT_VERSION.fullmatch(note):
                problems.append(f"{where}: a commit without its release in a comment")
        elif not EXACT_VERSION.fullmatch(version):
            problems.append(f"{where}: {version!r} moves (a branch or a major tag)")
    missed = uses_of(load(text)) - seen
    problems += [f"{ref}: a `uses:` this check could not read on its line" for ref in missed]
    return problems


def permission_problems(doc: Doc) -> list[str]:
    """The workflow's default is read-only; a job that writes runs on version tags alone."""
    problems = []
    default = doc.get("permissions")
    if default is None:
        problems.append("no workflow `permissions`: the repository's default may write")
    elif isinstance(default, str):
        if default != "read-all":
            problems.append(f"workflow permissions {default!r}")
    else:
        problems += [f"workflow {k}: {v}" for k, v in default.items() if v not in {"read", "none"}]
    for name, job in doc["jobs"].items():
        granted = job.get("permissions") or {}
        writes = granted == "write-all" or (
            isinstance(granted, dict) and "write" in granted.values()
        )
        if writes and "refs/tags/" not in str(job.get("if", "")):
            problems.append(f"job {name} may write but does not run on version tags alone")
    return problems


def concurrency_problems(doc: Doc) -> list[str]:
    concurrency = doc.get("concurrency") or {}
    if not isinstance(concurrency, dict) or concurrency.get("cancel-in-progress") is not True:
        return ["a newer run does not cancel the one it supersedes (concurrency)"]
    if "github.ref" not in str(concurrency.get("group", "")):
        return ["the concurrency group is not per branch or pull request"]
    return []


def with_of(job: Doc, name: str) -> Doc | None:
    """The inputs of the job's step that uses `name`, or None when none does."""
    for step in steps(job):
        if action(step) == name:
            return dict(step.get("with") or {})
    return None


def ci_job_problems(job: Doc) -> list[str]:
    """The job that runs the project's CI command on its platform, within a time limit."""
    problems = []
    if not str(job.get("runs-on", "")).startswith("ubuntu-"):
        problems.append(f"runs on {job.get('runs-on')!r}, not an Ubuntu runner")
    minutes = job.get("timeout-minutes")
    if not isinstance(minutes, int) or not 0 < minutes <= CI_MINUTES:
        problems.append(f"timeout-minutes {minutes!r}: want at most {CI_MINUTES}")
    python = with_of(job, "actions/setup-python") or {}
    # A string: YAML reads 3.10 as the number 3.1.
    if python.get("python-version") != PYTHON:
        problems.append(f"Python {python.get('python-version')!r}, want {PYTHON!r}")
    java = with_of(job, "actions/setup-java") or {}
    if java.get("java-version") != JAVA or not java.get("distribution"):
        problems.append(f"Java {java.get('java-version')!r} ({java.get('distribution')}): want 17")
    logs = [
        s
        for s in steps(job)
        if action(s) == "actions/upload-artifact" and "failure()" in str(s.get("if", ""))
    ]
    if not any(".stack/" in str((s.get("with") or {}).get("path", "")) for s in logs):
        problems.append("the stack's logs are not kept when it fails")
    return problems


def jobs_running(doc: Doc, predicate: Callable[[Doc], bool]) -> list[str]:
    return [name for name, job in doc["jobs"].items() if any(map(predicate, steps(job)))]


def runs_ci_command(step: Doc) -> bool:
    return str(step.get("run", "")).strip() == CI_COMMAND


def runs_required_audit(step: Doc) -> bool:
    run = str(step.get("run", ""))
    required = (
        "AUDIT_REQUIRED=1" in run or str((step.get("env") or {}).get("AUDIT_REQUIRED")) == "1"
    )
    return re.search(r"\bmake\s+audit\b", run) is not None and required


def builds_containerfile(step: Doc) -> bool:
    given = step.get("with") or {}
    return (
        action(step) == "docker/build-push-action"
        and given.get("file") == "Containerfile"
        and str(given.get("tags", "")).startswith(f"{IMAGE}:")
    )


def pushes(step: Doc) -> bool:
    return action(step) == "docker/build-push-action" and (step.get("with") or {}).get(
        "push"
    ) not in (None, False, "false")


def validates_compose(step: Doc) -> bool:
    run = str(step.get("run", ""))
    return "docker compose" in run and "deploy/compose/compose.yaml" in run and "config" in run


def workflow_problems(doc: Doc, text: str) -> list[str]:
    """Everything the structural checks find wrong with one workflow."""
    problems = pin_problems(text) + permission_problems(doc) + concurrency_problems(doc)
    testers = jobs_running(doc, runs_ci_command)
    if not testers:
        problems.append(f"no job runs {CI_COMMAND!r}")
    for name in testers:
        problems += [f"job {name}: {p}" for p in ci_job_problems(doc["jobs"][name])]
    if not jobs_running(doc, runs_required_audit):
        problems.append("no job runs `make audit` with AUDIT_REQUIRED=1")
    builders = jobs_running(doc, builds_containerfile)
    if not builders:
        problems.append(f"no job builds Containerfile as {IMAGE}:<version>")
    if not any(name in jobs_running(doc, validates_compose) for name in builders):
        problems.append("the image job does not validate deploy/compose/compose.yaml")
    for name in jobs_running(doc, pushes):
        if "refs/tags/" not in str(doc["jobs"][name].get("if", "")):
            problems.append(f"job {name} pushes the image but not on version tags alone")
    return problems


# --- the workflows as committed --------------------------------------------------------


def test_there_is_a_ci_workflow() -> None:
    assert CI in WORKFLOWS


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_and_shellcheck_pass(
    path: Path, actionlint: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    done = actionlint(path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_ci_workflow_runs_what_ci_must() -> None:
    text = CI.read_text()
    assert workflow_problems(load(text), text) == []


def test_the_ci_command_is_make_test() -> None:
    """The job runs .ci/run, and .ci/run is `make test` (what the README calls the tests)."""
    lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert "make test" in [line.strip() for line in lines]


def test_the_python_is_the_one_pyproject_requires() -> None:
    assert SpecifierSet(PROJECT["requires-python"]).contains(PYTHON)


def test_the_image_tag_is_pyprojects_version() -> None:
    """The image job reads the version from pyproject.toml, not from a copy in the workflow."""
    doc = load(CI.read_text())
    job = doc["jobs"][jobs_running(doc, builds_containerfile)[0]]
    scripts = " ".join(str(s.get("run", "")) for s in steps(job))
    assert "pyproject.toml" in scripts and '["project"]["version"]' in scripts


# --- the checks fail on documents broken on purpose ------------------------------------


def _workflow(path: Path, text: str) -> Path:
    target = path / ".github" / "workflows" / "ci.yml"
    target.parent.mkdir(parents=True)
    target.write_text(text)
    return target


def _doc(uses: str) -> str:
    return (
        "on: push\npermissions:\n  contents: read\njobs:\n  build:\n"
        "    runs-on: ubuntu-24.04\n    steps:\n"
        f'      - uses: {uses}\n      - run: echo "${{{{ github.sha }}}}"\n'
    )


@pytest.mark.parametrize(
    ("uses", "why"),
    [
        ("actions/checkout@main", "moves"),
        ("actions/checkout@v7", "moves"),
        ("actions/checkout", "no ref"),
        ("actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1", "comment"),
        ("actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # latest", "comment"),
        ("docker://alpine:3.20", "digest"),
    ],
)
def test_an_unpinned_action_is_refused(uses: str, why: str) -> None:
    problems = pin_problems(_doc(uses))
    assert len(problems) == 1 and why in problems[0], problems


@pytest.mark.parametrize(
    "uses",
    [
        "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1",
        "actions/checkout@v7.0.1",
        "./.github/actions/local",
        "docker://alpine@sha256:" + "0" * 64,
    ],
)
def test_a_pinned_action_passes(uses: str) -> None:
    assert pin_problems(_doc(uses)) == []


def test_a_uses_the_line_check_cannot_read_is_refused() -> None:
    """A `uses:` written in a form the line check misses is caught against the parsed YAML."""
    text = _doc("x").replace("      - uses: x\n", "      - {uses: actions/checkout@main}\n")
    assert any("could not read" in p for p in pin_problems(text))


def test_a_broken_expression_fails_actionlint(
    tmp_path: Path, actionlint: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    good = _workflow(tmp_path / "good", _doc("actions/checkout@v7.0.1"))
    assert actionlint(good).returncode == 0, actionlint(good).stdout
    broken = _workflow(tmp_path / "broken", good.read_text().replace("github.sha }}", "github.sha"))
    done = actionlint(broken)
    assert done.returncode == 1 and "expression" in done.stdout, done.stdout


def test_an_unquoted_expansion_fails_shellcheck(
    tmp_path: Path, actionlint: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    """shellcheck runs on the scripts (SC2068: an unquoted array expansion re-splits)."""
    script = '      - run: |\n          a=(x "y z")\n          printf "%s\\n" ${a[@]}\n'
    done = actionlint(_workflow(tmp_path, _doc("actions/checkout@v7.0.1") + script))
    assert done.returncode == 1 and "SC2068" in done.stdout, done.stdout


def _test_job(doc: Doc) -> Doc:
    return next(j for j in doc["jobs"].values() if CI_COMMAND in str(j))


def _set_input(doc: Doc, name: str, key: str, value: object) -> None:
    for step in steps(_test_job(doc)):
        if action(step) == name:
            step["with"][key] = value


MUTATIONS: dict[str, Callable[[Doc], object]] = {
    "no timeout": lambda d: _test_job(d).pop("timeout-minutes"),
    "Python 3.12": lambda d: _set_input(d, "actions/setup-python", "python-version", "3.12"),
    "Python as a number": lambda d: _set_input(d, "actions/setup-python", "python-version", 3.11),
    "Java 21": lambda d: _set_input(d, "actions/setup-java", "java-version", "21"),
    "make test instead of .ci/run": lambda d: [
        s.update(run="make test") for s in steps(_test_job(d)) if runs_ci_command(s)
    ],
    "no logs": lambda d: _test_job(d).update(
        steps=[s for s in steps(_test_job(d)) if action(s) != "actions/upload-artifact"]
    ),
    "audit not required": lambda d: [
        s.update(run="make audit")
        for j in d["jobs"].values()
        for s in steps(j)
        if runs_required_audit(s)
    ],
    "Dockerfile": lambda d: [
        s["with"].update(file="Dockerfile")
        for j in d["jobs"].values()
        for s in steps(j)
        if builds_containerfile(s)
    ],
    "push on every run": lambda d: [
        s["with"].update(push=True)
        for j in d["jobs"].values()
        for s in steps(j)
        if builds_containerfile(s)
    ],
    "write-all": lambda d: d.update(permissions="write-all"),
    "no permissions": lambda d: d.pop("permissions"),
    "a writer on every push": lambda d: [j.pop("if", None) for j in d["jobs"].values()],
    "runs not cancelled": lambda d: d["concurrency"].update({"cancel-in-progress": False}),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_each_structural_check_fails_on_its_mutation(mutation: str) -> None:
    text = CI.read_text()
    doc = copy.deepcopy(load(text))
    MUTATIONS[mutation](doc)
    assert workflow_problems(doc, text) != [], mutation
