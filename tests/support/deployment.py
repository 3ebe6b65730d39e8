"""What the deployment files (Containerfile, deploy/compose, deploy/k8s) may name, read
from the code itself, so a test fails when a manifest names something the code does not have.

- ``settings_env_names``: every environment variable a settings model reads (the same walk
  as the generated configuration reference, sentinel_cli.config_reference);
  ``secret_env_names`` and ``path_env_names``: those whose field is a secret, a path;
- ``cli_problem``: why an argv is not a ``sentinel`` command with options it accepts (None
  when it is), parsed by the CLI's own click commands without running them;
- ``http_paths``: the paths an HTTP app serves (the ingest API, the console);
- ``topic_names``: the declared topics (schemas.topics), with a prefix;
- ``PYPROJECT``/``PROJECT``/``VERSION``: pyproject.toml, read once; ``IMAGE``: the image's
  name (tagged with ``VERSION``), ``pinned_requirements``: pyproject's pins, name → version.
"""

from __future__ import annotations

import functools
import tomllib
import typing
from collections.abc import Sequence
from pathlib import Path

import typer
from packaging.requirements import Requirement
from pydantic import SecretStr

REPO = Path(__file__).resolve().parents[2]
PYPROJECT: dict[str, typing.Any] = tomllib.loads((REPO / "pyproject.toml").read_text())
PROJECT: dict[str, typing.Any] = PYPROJECT["project"]
VERSION: str = PROJECT["version"]
IMAGE = "ghcr.io/sentinelstream/sentinel"


def _env_names_of(kind: type | None = None) -> frozenset[str]:
    """The variables of the settings fields whose type is ``kind`` (or ``kind | None``); of
    every field when ``kind`` is None."""
    from sentinel_cli.config_reference import SETTINGS, env_names, is_nested

    names: set[str] = set()
    for cls in SETTINGS:
        for name, field in cls.model_fields.items():
            annotation = field.annotation
            if is_nested(field):
                continue
            if kind is None or annotation is kind or kind in typing.get_args(annotation):
                names.update(env_names(cls, name, field))
    return frozenset(names)


@functools.cache
def settings_env_names() -> frozenset[str]:
    """Every variable some settings model reads, aliases included."""
    return _env_names_of()


@functools.cache
def secret_env_names() -> frozenset[str]:
    """Every variable read into a ``SecretStr``: a manifest gives these only by reference."""
    return _env_names_of(SecretStr)


@functools.cache
def path_env_names() -> frozenset[str]:
    """Every variable read into a ``Path``: a container needs the file or folder mounted."""
    return _env_names_of(Path)


@functools.cache
def _cli() -> object:
    """The CLI's root group. Typed ``object``: typer returns a command of the click it bundles
    (typer._click, private), and the walks below read it by what it has, not by its class."""
    from sentinel_cli.main import app

    return typer.main.get_command(app)


def _subcommands(command: object) -> dict[str, object] | None:
    """A group's commands by name; None for a command (typer bundles its own click, so a
    group is told by what it has, not by click's class). Asked through click's
    ``list_commands``/``get_command``: the root group loads its commands on first use."""
    if not hasattr(command, "list_commands"):
        return None
    ctx = command.context_class(command)  # type: ignore[attr-defined]
    names = command.list_commands(ctx)
    return {name: command.get_command(ctx, name) for name in names}  # type: ignore[attr-defined]


def cli_problem(argv: Sequence[str]) -> str | None:
    """None when ``argv`` (``sentinel`` and its words) names a command of the CLI and its
    options and arguments parse; else what is wrong, for the test's message."""
    if not argv or Path(argv[0]).name != "sentinel":
        return f"{list(argv)}: not the `sentinel` entry point"
    command: object = _cli()
    words = list(argv[1:])
    path = ["sentinel"]
    while (commands := _subcommands(command)) is not None:
        if not words or words[0].startswith("-"):
            return f"{' '.join(path)}: a group, not a command"
        if words[0] not in commands:
            return f"{' '.join(path)} has no command {words[0]!r}"
        command = commands[words[0]]
        path.append(words.pop(0))
    try:
        # Parsing only: make_context checks options, choices and arguments, runs nothing.
        command.make_context(" ".join(path), words)  # type: ignore[attr-defined]
    except Exception as error:  # noqa: BLE001 - click's usage errors, whichever click raised them
        format_message = getattr(error, "format_message", None)
        message = format_message() if format_message else str(error)
        return f"{' '.join(path)} {' '.join(words)}: {message}"
    return None


def cli_commands() -> frozenset[str]:
    """Every leaf command, as its words after ``sentinel`` (``"agents run"``)."""

    def walk(command: object, path: tuple[str, ...]) -> list[str]:
        commands = _subcommands(command)
        if commands is None:
            return [" ".join(path)]
        return [p for n, c in commands.items() for p in walk(c, (*path, n))]

    return frozenset(walk(_cli(), ()))


@functools.cache
def http_paths(app: str) -> frozenset[str]:
    """The paths served by ``app``: ``"api"`` (ingest_api, its metrics route included) or
    ``"console"``; built without connecting to anything."""
    if app == "api":
        from ingest_api.app import create_app
        from ingest_api.settings import ApiSettings

        built = create_app(ApiSettings(expose_metrics=True), with_runtime=False)
    elif app == "console":
        from console.app import create_app as create_console

        built = create_console()
    else:
        raise ValueError(f"unknown app {app!r}")
    # FastAPI keeps included routers whole (no flat route list): their paths are the OpenAPI
    # document's; the app's own routes and mounts (static files) are listed directly.
    paths = set(built.openapi()["paths"])
    paths |= {p for r in built.routes if isinstance(p := getattr(r, "path", None), str)}
    return frozenset(paths)


def topic_names(prefix: str = "") -> frozenset[str]:
    from schemas.topics import declared_topics

    return frozenset(spec.name for spec in declared_topics(prefix))


@functools.cache
def pinned_requirements(extra: str | None = None) -> dict[str, str]:
    """pyproject's ``name==version`` pins (the runtime ones, or an extra's), name lower-cased."""
    lines = PROJECT["dependencies"] if extra is None else PROJECT["optional-dependencies"][extra]
    pins = {}
    for line in lines:
        requirement = Requirement(line)
        (spec,) = requirement.specifier
        if spec.operator != "==":
            raise ValueError(f"{line}: not pinned with ==")
        pins[requirement.name.lower()] = spec.version
    return pins
