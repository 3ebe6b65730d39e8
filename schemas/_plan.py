"""The one conversion between the record dataclasses and fastavro's dicts, planned per class
from its latest .avsc and its fields.

A record class subclasses `AvroConverted` and gets ``to_avro``/``from_avro``. Its plan is
worked out once (on the first conversion of any record) from the schema: which fields need
a check on the way out (decimals, timestamps), which a conversion on the way in (enums, nested
records, arrays as tuples), and which a `FieldCodec` of the class spreads over several wire
fields. A schema and a class that disagree (a field on one side only, an enum symbol the
Python enum lacks, a shape the plan cannot convert) are a `SchemaLoadError` at that moment.
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from operator import attrgetter
from types import NoneType, UnionType
from typing import Any, ClassVar, Self, cast

from schemas._convert import aware_check, decimal_check
from schemas.errors import InvalidRecord, SchemaLoadError
from schemas.registry import NAMESPACE, default_registry

Convert = Callable[[Any], Any]
_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_TIMESTAMPS = frozenset({"timestamp-millis", "timestamp-micros"})


@dataclass(frozen=True, slots=True)
class FieldCodec:
    """A field the wire carries as other fields (``wire``), e.g. a decision's features as
    positional values plus a map: ``to_wire(field value)`` gives them, ``from_wire(decoded
    record)`` reads the field's value back from them."""

    wire: tuple[str, ...]
    to_wire: Callable[[Any], Mapping[str, Any]]
    from_wire: Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class RecordPlan:
    """How one record class converts: plain fields by name, then the few that need more."""

    cls: type[Any]
    wire: tuple[str, ...]  # every wire field, in schema order
    get: Callable[[Any], tuple[Any, ...]]  # the plain fields' values, in one C call
    plain: tuple[str, ...]
    out: tuple[tuple[str, Convert], ...]
    into: tuple[tuple[str, Convert], ...]
    codecs: tuple[tuple[str, FieldCodec], ...]
    wire_only: tuple[str, ...]  # read by a codec, no field of the class

    def to_avro(self, obj: Any) -> dict[str, Any]:
        """The dict fastavro writes (StrEnum members pass as they are: they are str)."""
        try:
            value = dict(zip(self.plain, self.get(obj)))  # noqa: B905 - equal by construction
            for name, convert in self.out:
                value[name] = convert(value[name])
            for name, codec in self.codecs:
                value.update(codec.to_wire(getattr(obj, name)))
        except (AttributeError, TypeError) as exc:  # e.g. a str where a datetime belongs
            raise InvalidRecord(f"{self.cls.__name__}: {type(exc).__name__}: {exc}") from exc
        return value

    def only(self, names: tuple[str, ...]) -> RecordPlan:
        """This plan writing the wire fields ``names`` alone (a writer that writes the
        others by other means: ``schemas.codec.encode_decision``)."""
        codecs = tuple((n, c) for n, c in self.codecs if set(c.wire) <= set(names))
        plain = tuple(n for n in self.plain if n in names)
        if not plain or set(names) != set(plain).union(*(c.wire for _n, c in codecs)):
            raise SchemaLoadError(f"{self.cls.__name__} cannot write just {names}")
        return RecordPlan(
            self.cls,
            tuple(n for n in self.wire if n in names),
            _getter(plain),
            plain,
            tuple((n, convert) for n, convert in self.out if n in names),
            (),
            codecs,
            (),
        )

    @property
    def plain_out(self) -> bool:
        """Every field goes out as it is: a nested record's fast path."""
        return not (self.out or self.codecs)

    @property
    def plain_in(self) -> bool:
        """Every field comes in as it is: the decoded dict is the constructor's keywords."""
        return not (self.into or self.codecs or self.wire_only)

    def from_avro(self, value: Mapping[str, Any], cls: type[Any]) -> Any:
        """An object from a decoded dict of any version: fields it lacks take defaults;
        an unknown key is a TypeError (the codec's IncompatibleSchema)."""
        kwargs = dict(value)
        for name, convert in self.into:
            if name in kwargs:  # an older version may lack it
                kwargs[name] = convert(kwargs[name])
        for name, codec in self.codecs:
            kwargs[name] = codec.from_wire(value)
        for name in self.wire_only:
            kwargs.pop(name, None)
        return cls(**kwargs)


class AvroConverted:
    """Base of the record classes: ``to_avro``/``from_avro`` by the class's plan."""

    __slots__ = ()
    RECORD: ClassVar[str]  # the registry's name of a top-level record (nested ones have none)
    # A field the wire spreads over other fields, by field name (a class may declare some).
    FIELD_CODECS: ClassVar[Mapping[str, FieldCodec]] = {}
    _avro_plan: ClassVar[RecordPlan]

    def to_avro(self) -> dict[str, Any]:
        """The dict fastavro writes for this record."""
        return self._avro_plan.to_avro(self)

    def to_avro_of(self, names: tuple[str, ...]) -> dict[str, Any]:
        """``to_avro`` of the wire fields ``names`` alone; the others not even converted."""
        key = (type(self), names)
        plan = _PARTS.get(key)
        if plan is None:
            whole: Any = self._avro_plan
            if whole is _UNPLANNED:  # no record converted yet
                whole = _planned(type(self))
            plan = _PARTS[key] = whole.only(names)
        return plan.to_avro(self)

    @classmethod
    def from_avro(cls, value: Mapping[str, Any]) -> Self:
        """From a decoded dict of any version; fields its version lacks take defaults."""
        return cast(Self, cls._avro_plan.from_avro(value, cls))


class _Unplanned:
    """Every class's plan until the first conversion, which plans them all (lazily: planning
    reads every .avsc, which importing the records alone should not)."""

    pending: tuple[type[AvroConverted], ...] = ()

    def to_avro(self, obj: Any) -> dict[str, Any]:
        return _planned(type(obj)).to_avro(obj)

    def from_avro(self, value: Mapping[str, Any], cls: type[Any]) -> Any:
        return _planned(cls).from_avro(value, cls)


_UNPLANNED = _Unplanned()
AvroConverted._avro_plan = cast(RecordPlan, _UNPLANNED)
_PARTS: dict[tuple[type[Any], tuple[str, ...]], RecordPlan] = {}  # AvroConverted.to_avro_of's


def plan_records(classes: Iterable[type[AvroConverted]]) -> None:
    """Name the top-level record classes (each with its ``RECORD``), planned on first use."""
    _UNPLANNED.pending = tuple(classes)


def make_plans(classes: Iterable[type[AvroConverted]]) -> dict[type[Any], RecordPlan]:
    """The plans of `classes` (by their latest schemas) and of the records they embed."""
    plans: dict[type[Any], RecordPlan] = {}
    for top in classes:
        plan_for(top, default_registry().latest(top.RECORD).raw, plans)
    return plans


def plan_for(
    cls: type[Any], schema: Mapping[str, Any], plans: dict[type[Any], RecordPlan] | None = None
) -> RecordPlan:
    """`cls`'s plan for the top-level record `schema` (an .avsc's JSON), with those of the
    records it embeds added to `plans`; SchemaLoadError where the two disagree."""
    return _plan(cls, schema, {} if plans is None else plans, _named(schema, {}))


def _planned(cls: type[Any]) -> RecordPlan:
    plans = make_plans(_UNPLANNED.pending)
    for planned, plan in plans.items():
        planned._avro_plan = plan
    for known in cls.__mro__:  # a subclass of a record converts as its record
        if known in plans:
            return plans[known]
    raise SchemaLoadError(f"{cls.__name__} is no record type nor part of one")


def _plan(
    cls: type[Any], schema: Mapping[str, Any], plans: dict[type[Any], RecordPlan], named: Any
) -> RecordPlan:
    """`cls`'s plan for the record `schema`, made once and then checked against each use;
    ``named``: the named types of the schema it is part of, by full name."""
    wire = tuple(f["name"] for f in schema["fields"])
    if cls in plans:
        if plans[cls].wire != wire:
            raise SchemaLoadError(f"{cls.__name__} is embedded with fields {wire}")
        return plans[cls]
    if not (is_dataclass(cls) and issubclass(cls, AvroConverted)):
        raise SchemaLoadError(f"{schema['name']}: {cls!r} is no AvroConverted dataclass")
    codecs = dict(cls.FIELD_CODECS)
    spread = {w for codec in codecs.values() for w in codec.wire}
    hints = typing.get_type_hints(cls)
    attributes = {f.name for f in fields(cls)}
    plain = tuple(n for n in wire if n not in spread)
    _check_fields(cls, set(plain) | set(codecs), attributes)
    out: list[tuple[str, Convert]] = []
    into: list[tuple[str, Convert]] = []
    for field in schema["fields"]:
        name = field["name"]
        if name in plain:
            where = f"{schema['name']}.{name}"
            ftype, hint = field["type"], hints[name]
            _add(out, name, _to_wire(where, ftype, hint, plans, named))
            _add(into, name, _from_wire(where, ftype, hint, plans, named))
    plan = RecordPlan(
        cls,
        wire,
        _getter(plain),
        plain,
        tuple(out),
        tuple(into),
        tuple(codecs.items()),
        tuple(sorted(spread - attributes)),
    )
    plans[cls] = plan
    return plan


def _getter(plain: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The values of the fields ``plain`` of an object, as a tuple, in one C call."""
    if len(plain) > 1:
        return attrgetter(*plain)
    return lambda obj: (getattr(obj, plain[0]),)


def _check_fields(cls: type[Any], wire: set[str], attributes: set[str]) -> None:
    if wire != attributes:
        raise SchemaLoadError(
            f"{cls.__name__} and its schema differ: only in the class "
            f"{sorted(attributes - wire)}, only in the schema {sorted(wire - attributes)}"
        )


def _add(plan: list[tuple[str, Convert]], name: str, convert: Convert | None) -> None:
    if convert is not None:
        plan.append((name, convert))


def _to_wire(where: str, ftype: Any, hint: Any, plans: Any, named: Any) -> Convert | None:
    """What a field's value goes through on the way out; None when fastavro takes it as is."""
    ftype, hint = _resolve(ftype, named), _strip_none(hint)
    if isinstance(ftype, list):
        return _optional(where, ftype, hint, plans, named, _to_wire)
    kind = ftype["type"] if isinstance(ftype, dict) else ftype
    logical = ftype.get("logicalType") if isinstance(ftype, dict) else None
    if logical == "decimal":
        return decimal_check(where, ftype["precision"], ftype.get("scale", 0))
    if logical in _TIMESTAMPS:
        return aware_check(where)
    if kind == "record":
        return _plan(hint, ftype, plans, named).to_avro
    if kind == "array":
        items = _resolve(ftype["items"], named)
        item_hint = _item_hint(where, hint)
        if isinstance(items, dict) and items["type"] == "record":
            plan = _plan(item_hint, items, plans, named)
            if plan.plain_out:  # rules fired, reason codes: on the decision's hot path
                names, get = plan.plain, plan.get
                return lambda xs: [dict(zip(names, get(x))) for x in xs]  # noqa: B905
        item = _to_wire(where, items, item_hint, plans, named)
        return list if item is None else (lambda xs: [item(x) for x in xs])
    if kind == "map" and _to_wire(where, ftype["values"], Any, plans, named) is not None:
        raise SchemaLoadError(f"{where}: a map's values must need no conversion")
    return None


def _from_wire(where: str, ftype: Any, hint: Any, plans: Any, named: Any) -> Convert | None:
    """What a decoded value goes through on the way in; None when it is the field's value."""
    ftype, hint = _resolve(ftype, named), _strip_none(hint)
    if isinstance(ftype, list):
        return _optional(where, ftype, hint, plans, named, _from_wire)
    kind = ftype["type"] if isinstance(ftype, dict) else ftype
    if kind == "enum":
        return _enum(where, ftype, hint)
    if kind == "record":
        plan = _plan(hint, ftype, plans, named)
        if plan.plain_in:
            return lambda value: hint(**value)
        return lambda value: plan.from_avro(value, hint)
    if kind == "array":
        item = _from_wire(where, ftype["items"], _item_hint(where, hint), plans, named)
        return tuple if item is None else (lambda xs: tuple([item(x) for x in xs]))
    if kind == "map" and _from_wire(where, ftype["values"], Any, plans, named) is not None:
        raise SchemaLoadError(f"{where}: a map's values must need no conversion")
    return None


def _optional(
    where: str, union: list[Any], hint: Any, plans: Any, named: Any, side: Any
) -> Convert | None:
    branches = [b for b in union if b != "null"]
    logical = branches[0].get("logicalType") if isinstance(branches[0], dict) else None
    if len(union) == 2 and side is _to_wire and logical in _TIMESTAMPS:
        return aware_check(where, nullable=True)  # one call less per optional time
    converts = [side(where, b, hint, plans, named) for b in branches]
    if all(c is None for c in converts):
        return None
    if len(branches) != 1 or len(union) != 2:
        raise SchemaLoadError(f"{where}: only [null, T] unions may need a conversion")
    convert = cast(Convert, converts[0])
    return lambda value: None if value is None else convert(value)


def _enum(where: str, ftype: Mapping[str, Any], hint: Any) -> Convert | None:
    if hint is str:
        return None
    if not (isinstance(hint, type) and issubclass(hint, enum.Enum)):
        raise SchemaLoadError(f"{where}: an Avro enum needs a str or Enum field, not {hint!r}")
    missing = set(ftype["symbols"]) - {member.value for member in hint}
    if missing:
        raise SchemaLoadError(f"{where}: {hint.__name__} lacks the symbols {sorted(missing)}")
    return cast(Convert, hint)


def _item_hint(where: str, hint: Any) -> Any:
    args = typing.get_args(hint)
    if typing.get_origin(hint) is not tuple or len(args) != 2 or args[1] is not Ellipsis:
        raise SchemaLoadError(f"{where}: an Avro array needs a tuple[T, ...] field, not {hint}")
    return args[0]


def _strip_none(hint: Any) -> Any:
    """``T | None`` -> ``T``: the schema's union says whether null is allowed."""
    if isinstance(hint, UnionType) or typing.get_origin(hint) is typing.Union:
        rest = [arg for arg in typing.get_args(hint) if arg is not NoneType]
        return rest[0] if len(rest) == 1 else hint
    return hint


def _resolve(ftype: Any, named: dict[str, Any]) -> Any:
    """A reference to a named type (``"RuleHit"``) -> the type it names."""
    if isinstance(ftype, str) and ftype not in _PRIMITIVES:
        full = ftype if "." in ftype else f"{NAMESPACE}.{ftype}"
        if full not in named:
            raise SchemaLoadError(f"unknown named type {ftype}")
        return named[full]
    return ftype


def _named(ftype: Any, named: dict[str, Any]) -> dict[str, Any]:
    """Every named type (record, enum) defined in `ftype`, by full name, into `named`."""
    if isinstance(ftype, list):
        for branch in ftype:
            _named(branch, named)
    elif isinstance(ftype, dict):
        if ftype["type"] in ("record", "enum", "fixed"):
            name = ftype["name"]
            named[name if "." in name else f"{ftype.get('namespace', NAMESPACE)}.{name}"] = ftype
        for field in ftype.get("fields", ()):
            _named(field["type"], named)
        for key in ("items", "values"):
            if key in ftype:
                _named(ftype[key], named)
    return named
