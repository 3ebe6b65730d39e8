"""deploy/compose/compose.yaml checked against the code (no container engine runs here, so
the stack is never started by the tests): each of our services runs a `sentinel` command
the CLI parses, sets only variables some settings model reads, names declared topics only,
probes paths the app serves on the port it is configured with, and waits for what it needs;
every third-party image is pinned; no secret is written into the file.

Each check returns the problems it finds; the tests run it on the real file (none) and on
small documents that hold the mistake it exists to catch.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from dotenv import dotenv_values

from tests.support.deployment import (
    IMAGE,
    REPO,
    VERSION,
    cli_problem,
    http_paths,
    pinned_requirements,
    secret_env_names,
    settings_env_names,
    topic_names,
)

COMPOSE_DIR = REPO / "deploy" / "compose"
COMPOSE = COMPOSE_DIR / "compose.yaml"
ENV_EXAMPLE = COMPOSE_DIR / "sentinel.env.example"
OUR_IMAGE = f"{IMAGE}:{VERSION}"

# Variables our containers may set that no settings model reads, each with its reason.
RUNTIME_VARS = {
    "SENTINEL_ENV_FILE": "the env file every command loads first (deploy.local.envfile)",
    "PYTHONUNBUFFERED": "the interpreter's: logs reach the engine as written",
}
# Long-running services with no HTTP endpoint to probe, and why.
NO_ENDPOINT = {
    "merchant-risk run": "MerchantRiskSettings has no metrics port: the job serves nothing",
}
REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[?-])([^}]*))?\}")
TOKEN = re.compile(r"\$\$|" + REFERENCE.pattern)
PROBE = re.compile(r"https?://(127\.0\.0\.1|localhost):(\d+)(/[^'\"\s]*)")


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:?message}``, ``${VAR:-default}`` and ``$$``."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        if name in env and (env[name] or operator in (None, "?", "-")):
            return env[name]
        if operator in (":-", "-"):
            return argument or ""
        raise KeyError(f"${{{name}}} is not set ({argument or 'no default'})")

    return TOKEN.sub(one, value)


def resolved(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [resolved(item, env) for item in node]
    if isinstance(node, dict):
        return {key: resolved(item, env) for key, item in node.items()}
    return node


def example_env() -> dict[str, str]:
    return {k: v for k, v in dotenv_values(ENV_EXAMPLE).items() if v is not None}


def raw_document() -> dict[str, Any]:
    return typing.cast(dict[str, Any], yaml.safe_load(COMPOSE.read_text()))


def document() -> dict[str, Any]:
    return typing.cast(dict[str, Any], resolved(raw_document(), example_env()))


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the `- NAME=value` form
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def ours(doc: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, service in doc["services"].items():
        if str(service.get("image", "")).startswith(IMAGE):
            yield name, service


def long_running(service: Mapping[str, Any]) -> bool:
    return str(service.get("restart", "no")) != "no"


def command_words(service: Mapping[str, Any]) -> list[str]:
    command = service.get("command")
    return [str(w) for w in command] if isinstance(command, list) else []


def sentinel_command(service: Mapping[str, Any]) -> str:
    """The command's words before its options: ``"agents run"``."""
    return " ".join(w for w in command_words(service)[:2] if not w.startswith("-"))


# --- the checks ------------------------------------------------------------------------


def command_problems(doc: Mapping[str, Any]) -> list[str]:
    problems = []
    for name, service in ours(doc):
        if not isinstance(service.get("command"), list):
            problems.append(f"{name}: command is not a list of words")
            continue
        problem = cli_problem(["sentinel", *command_words(service)])
        if problem:
            problems.append(f"{name}: {problem}")
    return problems


def variable_problems(
    doc: Mapping[str, Any], env_file: Mapping[str, str], raw: Mapping[str, Any] | None = None
) -> list[str]:
    """Every variable our containers get is read by a settings model (or named above); the
    env file's lines are either such variables or used only through ${...} references (in
    ``raw``, the document before interpolation)."""
    known = settings_env_names() | RUNTIME_VARS.keys()
    problems = [
        f"{name}: {variable} is read by no settings model"
        for name, service in ours(doc)
        for variable in environment(service)
        if variable not in known
    ]
    given_whole = any("env_file" in service for _, service in ours(doc))
    referenced = set(REFERENCE.findall(yaml.safe_dump(dict(raw if raw is not None else doc))))
    referenced_names = {match[0] for match in referenced}
    for variable in env_file:
        if given_whole and variable not in known:
            problems.append(f"env file: {variable} reaches containers but no settings reads it")
        if not given_whole and variable not in referenced_names:
            problems.append(f"env file: {variable} is never used")
    return problems


def missing_references(raw: Mapping[str, Any], env_file: Mapping[str, str]) -> list[str]:
    """A required ``${VAR:?}`` the example env file lacks: a copy of it would not start."""
    needed = {m[0] for m in REFERENCE.findall(yaml.safe_dump(dict(raw))) if m[1] in (":?", "?")}
    return [f"${{{name}}} is not in the env file" for name in sorted(needed - env_file.keys())]


def topic_problems(doc: Mapping[str, Any]) -> list[str]:
    """A topic-valued variable names a declared topic; every service shares one prefix and
    one cluster (a service on another prefix would read topics nobody writes)."""
    problems = []
    prefixes, clusters = set(), set()
    for name, service in ours(doc):
        env = environment(service)
        prefix = env.get("SENTINEL_KAFKA_TOPIC_PREFIX", "")
        prefixes.add(prefix)
        if "SENTINEL_KAFKA_BOOTSTRAP_SERVERS" in env:
            clusters.add(env["SENTINEL_KAFKA_BOOTSTRAP_SERVERS"])
        declared = topic_names(prefix)
        for variable, value in env.items():
            if re.search(r"_TOPICS?$", variable):
                for topic in filter(None, (t.strip() for t in value.split(","))):
                    if topic not in declared:
                        problems.append(f"{name}: {variable}={topic} is not a declared topic")
    if len(prefixes) > 1:
        problems.append(f"services use different topic prefixes: {sorted(prefixes)}")
    if len(clusters) > 1:
        problems.append(f"services use different Kafka clusters: {sorted(clusters)}")
    return problems


def probe_problems(doc: Mapping[str, Any]) -> list[str]:
    """Each long-running service has a healthcheck; ours probe a path their app serves on
    the port they are configured with (the API's, the console's, else /metrics)."""
    problems = []
    for name, service in doc["services"].items():
        if long_running(service) and not (service.get("healthcheck") or {}).get("test"):
            problems.append(f"{name}: no healthcheck")
    for name, service in ours(doc):
        if not long_running(service):
            continue
        test = " ".join(str(w) for w in (service.get("healthcheck") or {}).get("test") or [])
        probes = PROBE.findall(test)
        command = sentinel_command(service)
        env = environment(service)
        if not probes:
            if command not in NO_ENDPOINT:
                problems.append(f"{name}: its healthcheck probes no URL")
            continue
        wanted_port: str | None
        for _host, port, path in probes:
            if command == "api serve":
                wanted_port, paths = env.get("SENTINEL_API_PORT", "8000"), http_paths("api")
            elif command == "console run":
                wanted_port, paths = env.get("SENTINEL_CONSOLE_PORT", "8100"), http_paths("console")
            else:
                metrics = [v for k, v in env.items() if k.endswith("_METRICS_PORT")]
                wanted_port, paths = (metrics[0] if metrics else None), frozenset({"/metrics"})
            if path not in paths:
                problems.append(f"{name}: probes {path}, which `{command}` does not serve")
            if port != wanted_port:
                problems.append(f"{name}: probes port {port}, configured {wanted_port}")
    return problems


def dependency_problems(doc: Mapping[str, Any]) -> list[str]:
    """Targets exist; a job is awaited to completion, a server until healthy; whatever uses
    the database waits (through its chain) for the migration, whatever uses Kafka for the
    topics."""
    services = doc["services"]
    problems = []

    def needs(name: str) -> dict[str, Any]:
        depends = services[name].get("depends_on") or {}
        return depends if isinstance(depends, dict) else dict.fromkeys(depends, {})

    for name in services:
        for target, spec in needs(name).items():
            if target not in services:
                problems.append(f"{name}: depends on {target}, which is not a service")
                continue
            job = not long_running(services[target])
            wanted = "service_completed_successfully" if job else "service_healthy"
            if (spec or {}).get("condition") != wanted:
                problems.append(f"{name}: waits for {target} without condition {wanted}")

    def reaches(name: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        direct = needs(name).keys() & services.keys()
        return goal in direct or any(reaches(n, goal, seen | {name}) for n in direct - seen)

    for name, service in ours(doc):
        env = environment(service)
        if "SENTINEL_POSTGRES_DSN" in env and name not in ("db-roles", "db-migrate"):
            if not reaches(name, "db-migrate"):
                problems.append(f"{name}: uses PostgreSQL before db-migrate has run")
        if "SENTINEL_KAFKA_BOOTSTRAP_SERVERS" in env and name != "topics":
            if not reaches(name, "topics"):
                problems.append(f"{name}: uses Kafka before the topics exist")
    return problems


def image_problems(doc: Mapping[str, Any], compose_dir: Path = COMPOSE_DIR) -> list[str]:
    """Third-party images at an exact version (or digest); ours the agreed name at
    pyproject's version, built from the repository's Containerfile."""
    problems = []
    for name, service in doc["services"].items():
        image = str(service.get("image", ""))
        if image.startswith(IMAGE):
            if image != OUR_IMAGE:
                problems.append(f"{name}: image {image}, not {OUR_IMAGE}")
            build = service.get("build") or {}
            context = (compose_dir / str(build.get("context", "."))).resolve()
            if context != REPO or build.get("dockerfile") != "Containerfile":
                problems.append(f"{name}: not built from the repository's Containerfile")
            continue
        if "@sha256:" in image:
            continue
        tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
        if not re.match(r"^\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?$", tag):
            problems.append(f"{name}: image {image or '(none)'} is not pinned to a version")
    return problems


def url_password(value: str) -> str | None:
    """The password of ``scheme://user:password@host...`` as written (urlsplit would cut a
    ``${VAR:?}`` reference at its ``?``)."""
    if "://" not in value:
        return None
    userinfo, at, _host = value.split("://", 1)[1].rpartition("@")
    return userinfo.partition(":")[2] if at and ":" in userinfo else None


def secret_problems(raw: Mapping[str, Any]) -> list[str]:
    """No secret written into the file: every secret setting (and any password-like
    variable of a third-party service) is a ${...} reference, or a URL whose password is."""
    secrets = secret_env_names()
    password_like = re.compile(r"PASSWORD|PEPPER|SECRET|SIGNING_KEY|REDISCLI_AUTH")
    problems = []
    for name, service in raw["services"].items():
        for variable, value in environment(service).items():
            if variable not in secrets and not password_like.search(variable):
                continue
            if REFERENCE.fullmatch(value):
                continue
            if (password := url_password(value)) is not None and REFERENCE.fullmatch(password):
                continue
            problems.append(f"{name}: {variable} holds a value, not a ${{...}} reference")
        words = command_words(service)
        for flag, value in zip(words, words[1:], strict=False):
            if flag in ("--requirepass", "--password") and not REFERENCE.fullmatch(value):
                problems.append(f"{name}: {flag} is given a value, not a ${{...}} reference")
    return problems


# --- the real file ---------------------------------------------------------------------


def test_the_compose_file_passes_every_check() -> None:
    doc, raw, env_file = document(), raw_document(), example_env()
    assert command_problems(doc) == []
    assert variable_problems(doc, env_file, raw) == []
    assert missing_references(raw, env_file) == []
    assert topic_problems(doc) == []
    assert probe_problems(doc) == []
    assert dependency_problems(doc) == []
    assert image_problems(doc) == []
    assert secret_problems(raw) == []


def test_the_stack_runs_every_service_of_a_deployment() -> None:
    commands = {sentinel_command(s) for _, s in ours(document())}
    wanted = {
        "db roles", "db migrate", "topics apply", "rules load", "api serve", "agents run",
        "sink run", "labels sink", "reviews sink", "rules relay", "webhooks run",
        "merchant-risk run", "console run",
    }  # fmt: skip
    assert wanted - commands == set()


def test_the_agents_keep_a_static_identity_and_an_on_disk_store() -> None:
    agents = [s for _, s in ours(document()) if sentinel_command(s) == "agents run"]
    assert agents
    ids = [environment(a)["SENTINEL_AGENTS_INSTANCE_ID"] for a in agents]
    assert len(set(ids)) == len(ids)
    for agent in agents:
        env = environment(agent)
        assert env["SENTINEL_AGENTS_STORE"] == "rocksdb://"
        mounts = [str(v).split(":")[1] for v in agent.get("volumes", [])]
        assert env["SENTINEL_AGENTS_DATA_DIR"] in mounts


def test_no_topic_valued_setting_is_left_unchecked() -> None:
    # topic_problems checks variables named *_TOPIC(S); the only Kafka-naming setting
    # today is the prefix. A new topic-valued setting must be named so to be checked.
    named = {n for n in settings_env_names() if "TOPIC" in n}
    assert named == {"SENTINEL_KAFKA_TOPIC_PREFIX"}


def test_the_env_file_example_holds_no_real_secret() -> None:
    assert all(value.startswith("replace-with-") for value in example_env().values())


# --- the checks catch what they exist to catch -----------------------------------------


def small(services: str) -> dict[str, Any]:
    return typing.cast(dict[str, Any], yaml.safe_load(f"services:\n{services}"))


OURS = f"image: {OUR_IMAGE}\n    build: {{context: ../.., dockerfile: Containerfile}}"


def test_interpolation_follows_compose() -> None:
    env = {"A": "x", "E": ""}
    assert interpolate("p://u:${A:?no}@h/$${B}", env) == "p://u:x@h/${B}"
    assert interpolate("${B:-d}${E:-f}", env) == "df"
    with pytest.raises(KeyError):
        interpolate("${B:?set it}", env)


def test_an_unknown_command_or_option_is_refused() -> None:
    doc = small(
        f"  a:\n    {OURS}\n    command: [sink, start]\n"
        f"  b:\n    {OURS}\n    command: [sink, run, --fast]\n"
        f"  c:\n    {OURS}\n    command: sink run\n"
    )
    problems = command_problems(doc)
    assert len(problems) == 3
    assert "no command 'start'" in problems[0]


def test_a_variable_no_settings_reads_is_refused() -> None:
    doc = small(f"  a:\n    {OURS}\n    environment: {{SENTINEL_SINK_BATCHSIZE: '5'}}\n")
    assert variable_problems(doc, {}) == ["a: SENTINEL_SINK_BATCHSIZE is read by no settings model"]
    assert variable_problems(doc, {"UNUSED": "x"})[-1] == "env file: UNUSED is never used"
    whole = small(f"  a:\n    {OURS}\n    env_file: [x.env]\n")
    assert variable_problems(whole, {"DB_PASSWORD": "x"}) == [
        "env file: DB_PASSWORD reaches containers but no settings reads it"
    ]


def test_a_reference_the_env_file_lacks_is_refused() -> None:
    raw = small("  a:\n    image: x:1.0.0\n    environment: {P: '${NOPE:?set it}'}\n")
    assert missing_references(raw, {}) == ["${NOPE} is not in the env file"]


def test_an_undeclared_topic_or_a_second_prefix_is_refused() -> None:
    doc = small(
        f"  a:\n    {OURS}\n    environment: {{SENTINEL_X_TOPIC: decisionz}}\n"
        f"  b:\n    {OURS}\n    environment: {{SENTINEL_KAFKA_TOPIC_PREFIX: other.}}\n"
    )
    problems = topic_problems(doc)
    assert "a: SENTINEL_X_TOPIC=decisionz is not a declared topic" in problems
    assert any("different topic prefixes" in p for p in problems)
    good = small(f"  a:\n    {OURS}\n    environment: {{SENTINEL_X_TOPICS: 'decisions,labels'}}\n")
    assert topic_problems(good) == []


def probe(url: str) -> str:
    return f"healthcheck: {{test: [CMD, python, -c, \"urlopen('{url}')\"]}}"


def test_a_probe_of_a_path_or_port_the_service_lacks_is_refused() -> None:
    doc = small(
        f"  api:\n    {OURS}\n    restart: always\n    command: [api, serve]\n"
        f"    environment: {{SENTINEL_API_PORT: '8000'}}\n    {probe('http://127.0.0.1:8000/health')}\n"
        f"  sink:\n    {OURS}\n    restart: always\n    command: [sink, run]\n"
        f"    environment: {{SENTINEL_SINK_METRICS_PORT: '9100'}}\n"
        f"    {probe('http://127.0.0.1:9200/metrics')}\n"
        f"  web:\n    {OURS}\n    restart: always\n    command: [console, run]\n"
        f"    {probe('http://127.0.0.1:8100/console/')}\n"
        f"  relay:\n    {OURS}\n    restart: always\n    command: [rules, relay]\n"
        "  redis:\n    image: redis:7.4.5\n    restart: always\n"
    )
    assert probe_problems(doc) == [
        "relay: no healthcheck",
        "redis: no healthcheck",
        "api: probes /health, which `api serve` does not serve",
        "sink: probes port 9200, configured 9100",
        "relay: its healthcheck probes no URL",
    ]


def test_a_wrong_condition_or_a_missing_target_is_refused() -> None:
    doc = small(
        "  pg:\n    image: postgres:15.14\n    restart: always\n"
        f"  db-migrate:\n    {OURS}\n    command: [db, migrate]\n"
        "    environment: {SENTINEL_POSTGRES_DSN: x}\n"
        "    depends_on: {pg: {condition: service_started}}\n"
        f"  sink:\n    {OURS}\n    restart: always\n"
        "    environment: {SENTINEL_POSTGRES_DSN: x, SENTINEL_KAFKA_BOOTSTRAP_SERVERS: k:9092}\n"
        "    depends_on: {db-migrate: {condition: service_healthy}, ghost: {}}\n"
        f"  api:\n    {OURS}\n    restart: always\n"
        "    environment: {SENTINEL_POSTGRES_DSN: x}\n"
        "    depends_on: {pg: {condition: service_healthy}}\n"
    )
    assert dependency_problems(doc) == [
        "db-migrate: waits for pg without condition service_healthy",
        "sink: waits for db-migrate without condition service_completed_successfully",
        "sink: depends on ghost, which is not a service",
        "sink: uses Kafka before the topics exist",
        "api: uses PostgreSQL before db-migrate has run",
    ]


@pytest.mark.parametrize(
    "image", ["redis", "redis:latest", "redis:7", "apache/kafka:latest", "postgres:bookworm"]
)
def test_an_unpinned_image_is_refused(image: str) -> None:
    assert image_problems(small(f"  a:\n    image: {image}\n")) != []


def test_our_image_must_be_the_agreed_one_built_here() -> None:
    assert image_problems(small(f"  a:\n    {OURS}\n")) == []
    other = small("  a:\n    image: ghcr.io/sentinelstream/sentinel:latest\n")
    assert any("not ghcr.io" in p for p in image_problems(other))
    elsewhere = small(f"  a:\n    image: {OUR_IMAGE}\n    build: {{context: ., dockerfile: D}}\n")
    assert image_problems(elsewhere) == ["a: not built from the repository's Containerfile"]
    assert image_problems(small("  a:\n    image: postgres:15.14-bookworm\n")) == []


def test_a_secret_written_inline_is_refused() -> None:
    raw = small(
        "  a:\n    image: x:1.0.0\n    environment:\n"
        "      SENTINEL_API_API_KEY_PEPPER: hunter2\n"
        "      SENTINEL_POSTGRES_DSN: postgresql://svc:hunter2@pg/db\n"
        "      SENTINEL_REDIS_URL: 'redis://default:${REDIS_PASSWORD:?}@redis:6379/0'\n"
        "      POSTGRES_PASSWORD: hunter2\n"
        "    command: [redis-server, --requirepass, hunter2]\n"
    )
    assert secret_problems(raw) == [
        "a: SENTINEL_API_API_KEY_PEPPER holds a value, not a ${...} reference",
        "a: SENTINEL_POSTGRES_DSN holds a value, not a ${...} reference",
        "a: POSTGRES_PASSWORD holds a value, not a ${...} reference",
        "a: --requirepass is given a value, not a ${...} reference",
    ]


def test_the_compose_pins_nothing_of_pyproject_differently() -> None:
    # Our services run the image; a `pip install name==version` here would be a second pin.
    pins = pinned_requirements()
    written = re.findall(r"([A-Za-z0-9_.-]+)==([\w.]+)", COMPOSE.read_text())
    assert [(n, v) for n, v in written if pins.get(n.lower()) != v] == []
