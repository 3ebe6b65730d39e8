"""docs/configuration.md's reference is what the settings models generate, and covers them all."""

from __future__ import annotations

import ast
import difflib
import importlib
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings, SettingsConfigDict

from sentinel_cli.config_reference import (
    COMMAND,
    DOC,
    REPO,
    SETTINGS,
    MissingDescription,
    is_nested,
    reference,
    updated,
)
from tests.support.sources import project_sources


def test_the_page_holds_the_reference_the_settings_models_generate() -> None:
    page = DOC.read_text()
    fresh = updated(page)
    diff = "".join(
        difflib.unified_diff(
            page.splitlines(keepends=True),
            fresh.splitlines(keepends=True),
            "docs/configuration.md",
            "generated",
            n=0,
        )
    )
    assert fresh == page, f"docs/configuration.md is out of date: run {COMMAND}\n{diff[:4000]}"


def _settings_classes() -> list[type[BaseSettings]]:
    """Every BaseSettings subclass defined in the repository's code, found by reading the
    source (so a new class is found without being imported anywhere first)."""
    defined: dict[str, tuple[str, list[str]]] = {}  # class name -> (module, base names)
    for relative in project_sources():
        path, parts = REPO / relative, relative.parts
        module = ".".join(parts)[: -len(".py")].removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases]
                defined[f"{module}:{node.name}"] = (module, bases)
    found: set[str] = set()
    grew = True
    while grew:
        names = {key.split(":")[1] for key in found} | {"BaseSettings"}
        new = {key for key, (_, bases) in defined.items() if names & set(bases)} - found
        grew = bool(new)
        found |= new
    classes = []
    for key in sorted(found):
        module, name = key.split(":")
        cls = getattr(importlib.import_module(module), name)
        assert issubclass(cls, BaseSettings), key
        classes.append(cls)
    return classes


def test_settings_classes_are_discovered() -> None:
    found = _settings_classes()
    assert len(found) > 10
    assert set(SETTINGS) <= set(found)


def test_every_settings_class_is_in_the_reference() -> None:
    missing = []
    for cls in _settings_classes():
        prefix = cls.model_config.get("env_prefix", "")
        # A base without a prefix is read only through its subclasses, under their prefixes.
        covered = cls in SETTINGS or (
            not prefix and any(issubclass(s, cls) for s in SETTINGS if s is not cls)
        )
        if not covered:
            missing.append(f"{cls.__module__}.{cls.__qualname__}")
    assert not missing, f"add to sentinel_cli.config_reference.SETTINGS, then {COMMAND}: {missing}"


def test_every_field_of_every_settings_class_has_a_description() -> None:
    blank = [
        f"{cls.__module__}.{cls.__qualname__}.{name}"
        for cls in _settings_classes()
        for name, field in cls.model_fields.items()
        if not is_nested(field) and not (field.description or "").strip()
    ]
    assert not blank, f"give these an attribute docstring: {blank}"


def test_the_generator_refuses_a_field_without_a_description(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Undocumented(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="SENTINEL_UNDOCUMENTED_")

        size: int = 1

    monkeypatch.setattr("sentinel_cli.config_reference.SETTINGS", (Undocumented,))
    with pytest.raises(MissingDescription, match=r"Undocumented\.size"):
        reference()


def test_the_reference_shows_no_secret_nor_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_POSTGRES_DSN", "postgresql://u:env-secret-1@db/x")
    monkeypatch.setenv("SENTINEL_API_API_KEY_PEPPER", "env-secret-2")
    monkeypatch.setenv("SENTINEL_STACK_DIR", "/somewhere/else")
    text = reference()
    for leaked in ("env-secret", "/somewhere/else", "sentinel:sentinel@", "postgres:postgres@"):
        assert leaked not in text
    assert "sentinel-local-pepper" not in text
    assert str(REPO) not in text and str(Path.home()) not in text
    assert "`<checkout>/.stack`" in text and "`~/.cache/sentinelstream`" in text


def test_a_shared_variable_is_listed_once() -> None:
    text = reference()
    for variable in ("SENTINEL_KAFKA_BOOTSTRAP_SERVERS", "SENTINEL_AGENTS_MODEL_REGISTRY"):
        assert text.count(f"| `{variable}`") == 1
    assert "SENTINEL_API_KAFKA" not in text
