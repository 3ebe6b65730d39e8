"""Which modules of the decision code run compiled by mypyc, and the check that a compiled
module is never older than its source (docs/adr/0010-decision-code-compiled-by-mypyc.md).

``make native`` (``python -m deploy.native build``), which ``make venv`` and so every target
after it runs, compiles ``NATIVE_MODULES`` in place: each gets an extension module beside
its ``.py``, which Python imports instead of it. The same source runs as plain Python where
nothing was compiled (a fresh clone before ``make``, the container image, or after ``make
native-clean``), and decides byte for byte the same, only slower
(tests/unit/decision_core/test_native.py compares the two).

An extension built before its source last changed would run code that is no longer in the
repository, so ``schemas`` (which every part imports first) refuses to import then, naming
the modules and the command that rebuilds them.
"""

from __future__ import annotations

import importlib.machinery
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent

# The decision code's hot path: features and state codec, the pipeline around them, rules
# binding and verdicts, the transaction's validation and codec. Left out: ``schemas._plan``
# (its class attribute starts as a sentinel of another type, which mypyc's checked attributes
# refuse), ``decision_core.features.event`` and ``rule_engine.breaker``: their frozen
# dataclasses (``HomeProfile``, ``BreakerConfig``) cross to replay's worker processes by
# pickle, which cannot rebuild a compiled frozen dataclass (it sets each field).
NATIVE_MODULES: Final = (
    "decision_core.features.codec",
    "decision_core.features.compute",
    "decision_core.features.ids",
    "decision_core.features.view",
    "decision_core.features.windows",
    "decision_core.judge",
    "decision_core.outputs",
    "decision_core.pipeline",
    "decision_core.placement",
    "decision_core.records",
    "decision_core.transaction_features",
    "rule_engine.context",
    "rule_engine.evaluate",
    "rule_engine.ruleset",
    "schemas.codec",
    "schemas.fingerprint",
    "schemas.pan",
    "schemas.partitioning",
    "schemas.transaction_claims",
    "schemas.validation",
)


def source_of(module: str, root: Path = ROOT) -> Path:
    return root.joinpath(*module.split(".")).with_suffix(".py")


def extensions_of(module: str, root: Path = ROOT) -> list[Path]:
    """The compiled files beside ``module``'s source (none where it runs as Python)."""
    source = source_of(module, root)
    found = (source.with_name(source.stem + s) for s in importlib.machinery.EXTENSION_SUFFIXES)
    return [path for path in found if path.exists()]


def stale(modules: tuple[str, ...] = NATIVE_MODULES, root: Path = ROOT) -> list[str]:
    """Those of ``modules`` compiled before their source last changed (a module neither
    compiled nor present, as in a copy of one package, is not looked at)."""
    out = []
    for module in modules:
        if built := extensions_of(module, root):
            changed = source_of(module, root).stat().st_mtime
            if any(ext.stat().st_mtime < changed for ext in built):
                out.append(module)
    return out


def check_fresh() -> None:
    """Raise ImportError when a compiled module is older than its source."""
    if old := stale():
        raise ImportError(
            f"compiled before their source last changed: {', '.join(old)}. "
            "Run `make native` to compile them again (or `make native-clean` to run the "
            "decision code as plain Python)."
        )
