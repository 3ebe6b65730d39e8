"""Named allow/deny lists (cards, accounts, merchants, countries, devices, IPs) for rules.

A rule reads a list only as ``<field> in lists.<name>``; ``compile_rule`` enforces that.
The reason is cost, measured: CEL converts a list variable from Python on every
evaluation that touches it (0.7 ms for a 10,000-member list, 30 ms for 100,000). So the
engine never hands CEL a whole list: per transaction, each ``lists.<name>`` holds only
those of the transaction's own field values that are members (``project``), which gives
exactly the same answer to ``field in lists.<name>`` at a cost independent of list size.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Self

from rule_engine.errors import InvalidRuleSpec

_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ListKind(StrEnum):
    """What a list holds; ``field`` is the transaction field its members compare with."""

    CARDS = "cards"
    ACCOUNTS = "accounts"
    MERCHANTS = "merchants"
    COUNTRIES = "countries"
    DEVICES = "devices"
    IPS = "ips"

    @property
    def field(self) -> str:
        return _FIELDS[self]


_FIELDS: Final = {
    ListKind.CARDS: "card_token",
    ListKind.ACCOUNTS: "account_id",
    ListKind.MERCHANTS: "merchant_id",
    ListKind.COUNTRIES: "country",
    ListKind.DEVICES: "device_id",
    ListKind.IPS: "ip",
}


@dataclass(frozen=True, slots=True)
class NamedList:
    """One list: its name (as rules spell it after ``lists.``), kind and members."""

    name: str
    kind: ListKind
    values: frozenset[str]

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise InvalidRuleSpec(f"list name {self.name!r} is not a CEL identifier")

    @classmethod
    def of(cls, name: str, kind: ListKind | str, values: Iterable[str]) -> Self:
        return cls(name, ListKind(kind), frozenset(values))


class ListSet(Mapping[str, NamedList]):
    """An immutable set of named lists; changes return a new set (swap it atomically)."""

    __slots__ = ("_lists",)

    def __init__(self, lists: Iterable[NamedList] = ()) -> None:
        self._lists: Mapping[str, NamedList] = MappingProxyType({nl.name: nl for nl in lists})

    def __getitem__(self, name: str) -> NamedList:
        return self._lists[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._lists)

    def __len__(self) -> int:
        return len(self._lists)

    def __hash__(self) -> int:  # immutable, so usable as a default and a key
        return hash(frozenset(self._lists.items()))

    def with_list(self, named: NamedList) -> ListSet:
        return ListSet([*(nl for nl in self._lists.values() if nl.name != named.name), named])

    def without(self, name: str) -> ListSet:
        return ListSet(nl for nl in self._lists.values() if nl.name != name)

    def project(
        self, pairs: Iterable[tuple[str, str]], values: Mapping[str, object]
    ) -> dict[str, dict[str, bool]]:
        """``lists`` as CEL sees it for one transaction: for each (field, list) a rule tests,
        the field's value if it is a member. A list that does not exist stays absent, so a
        rule naming it fails (no such key) rather than silently never matching.
        """
        projected: dict[str, dict[str, bool]] = {}
        for field, name in pairs:
            named = self._lists.get(name)
            if named is None:
                continue
            members = projected.setdefault(name, {})
            value = values.get(field)
            if isinstance(value, str) and value in named.values:
                members[value] = True
        return projected


EMPTY_LISTS: Final = ListSet()
