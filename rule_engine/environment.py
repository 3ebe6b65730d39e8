"""What a rule may read: every name, its CEL type, and the functions the engine allows.

Names and types
    Transaction fields (``TRANSACTION_FIELDS``): strings, except ``amount`` (a CEL
    ``double`` in major units, for comparisons only: the exact Decimal amount stays on the
    transaction and in the ledger), ``lat``/``lon`` (doubles) and ``hour`` (an ``int``, the
    local hour of the feature engine's time zone). Every feature of ``LIVE_FEATURE_NAMES``
    (per-account and merchant risk) is a ``double``; ``home_country`` a string; ``lists`` a
    map of list name to its members.

Unknown values are ``null``
    An absent optional field (``device_id``, ``mcc``...), an unknown home country and a
    NaN feature (``travel_speed_kmh`` without a previous location...) are CEL ``null``.
    Comparing ``null`` with ``>``/``<`` is a runtime error, so the rule does not fire and
    its error is counted; guard with ``x != null && x > 900``. ``==``/``!=`` never fail:
    ``null != 'FR'`` is true, which is why ``country != home_country`` wants
    ``home_country != null &&`` in front of it.

Numbers
    CEL compares ``int`` with ``double`` (``amount > 5000`` is fine) but never mixes them in
    arithmetic: ``amount * 2`` is a type error that ``compile_rule`` reports; write
    ``amount * 2.0``.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final

from schemas.features import LIVE_FEATURE_NAMES


class CelType(StrEnum):
    """The CEL type of a name in the environment."""

    STRING = "string"
    DOUBLE = "double"
    INT = "int"
    MAP = "map"


_S, _D = CelType.STRING, CelType.DOUBLE
TRANSACTION_FIELDS: Final = MappingProxyType(
    {
        "transaction_id": _S,
        "account_id": _S,
        "card_token": _S,
        "amount": _D,
        "currency": _S,
        "merchant_id": _S,
        "mcc": _S,
        "country": _S,
        "city": _S,
        "lat": _D,
        "lon": _D,
        "channel": _S,
        "device_id": _S,
        "ip": _S,
        "type": _S,
        "hour": CelType.INT,
    }
)

ENVIRONMENT: Final = MappingProxyType(
    {
        **TRANSACTION_FIELDS,
        **dict.fromkeys(LIVE_FEATURE_NAMES, _D),
        "home_country": _S,
        "lists": CelType.MAP,
    }
)

STRING_NAMES: Final = frozenset(name for name, kind in ENVIRONMENT.items() if kind is _S)

# The comprehension macros: their first argument binds a name local to the expression.
MACROS: Final = frozenset({"all", "exists", "exists_one", "existsOne", "map", "filter"})

# The Rust core's own functions (the Python stdlib extensions are callbacks, left out).
# Operators are reported as names starting with _, @, ! or - and are always allowed.
FUNCTIONS: Final = frozenset(
    {
        "size",
        "contains",
        "startsWith",
        "endsWith",
        "matches",
        "int",
        "uint",
        "double",
        "string",
        "bytes",
        "timestamp",
        "duration",
        "type",
        "dyn",
        "getFullYear",
        "getMonth",
        "getDayOfYear",
        "getDate",
        "getDayOfMonth",
        "getDayOfWeek",
        "getHours",
        "getMinutes",
        "getSeconds",
        "getMilliseconds",
    }
)
_OPERATOR_PREFIXES: Final = ("_", "@", "!", "-")


def is_known_function(name: str) -> bool:
    return name in FUNCTIONS or name.startswith(_OPERATOR_PREFIXES)


def probe_values(names: frozenset[str], lists: frozenset[str], high: bool) -> dict[str, object]:
    """Typed stand-in values for a trial run at compile time: all low, or all high.

    Never null, so that a type error in a trial run is (nearly always) one of the
    expression itself. Doubles differ from name to name and are never 0: CEL fails on a
    NaN comparison as on a type error, and ``a / b`` or ``a - b`` must not make one. Low
    strings are all '0' (equal, numeric), high ones all differ, and every list holds every
    high string, so both sides of ``country != home_country`` and of ``in`` get a run.
    """
    values: dict[str, object] = {}
    for index, name in enumerate(sorted(names - {"lists"}), start=1):
        kind = ENVIRONMENT[name]
        if kind is CelType.STRING:
            values[name] = f"ZZ{index}" if high else "0"
        elif kind is CelType.DOUBLE:
            values[name] = 1e6 + index if high else index / 64
        else:
            values[name] = 23 if high else 0
    strings = {value: True for value in values.values() if high and isinstance(value, str)}
    values["lists"] = {name: strings for name in lists}
    return values
