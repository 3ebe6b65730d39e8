"""The seed rules and lists, kept as data in ``seed_rules.json`` beside this module."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

from rule_engine.lists import ListSet, NamedList
from rule_engine.model import RuleSpec


def _seed() -> dict[str, Any]:
    text = files("rule_engine").joinpath("seed_rules.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def load_seed_rules() -> list[RuleSpec]:
    """Every seed rule, at version 1 unless the file says otherwise."""
    return [RuleSpec.from_dict(rule) for rule in _seed()["rules"]]


def load_seed_lists() -> ListSet:
    """The lists the seed rules name (empty: a deployment fills them)."""
    return ListSet(
        NamedList.of(item["name"], item["kind"], item["values"]) for item in _seed()["lists"]
    )
