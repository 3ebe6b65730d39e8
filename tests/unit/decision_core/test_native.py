"""The decision code compiled by mypyc (schemas.native, ADR 0010): listed modules exist,
a stale extension is refused, and compiled and plain Python decide byte for byte alike."""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from schemas.native import NATIVE_MODULES, ROOT, extensions_of, source_of, stale

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def test_every_listed_module_is_a_source_of_the_repository() -> None:
    for module in NATIVE_MODULES:
        assert source_of(module).is_file(), module
    assert len(set(NATIVE_MODULES)) == len(NATIVE_MODULES)


def test_an_extension_older_than_its_source_is_stale_a_newer_one_or_none_is_not(
    tmp_path: Path,
) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    for name in ("fresh", "old", "plain"):
        (package / f"{name}.py").write_text("x = 1\n")
    for name, at in (("fresh", 2_000_000_000), ("old", 1_000_000_000)):
        (package / f"{name}{SUFFIX}").write_bytes(b"")
        os.utime(package / f"{name}{SUFFIX}", (at, at))
    for name in ("fresh", "old", "plain"):
        os.utime(package / f"{name}.py", (1_500_000_000, 1_500_000_000))
    modules = ("pkg.fresh", "pkg.old", "pkg.plain", "pkg.absent")  # absent: a partial copy
    assert stale(modules, tmp_path) == ["pkg.old"]
    assert [p.name for p in extensions_of("pkg.fresh", tmp_path)] == [f"fresh{SUFFIX}"]
    assert extensions_of("pkg.plain", tmp_path) == []


def digests(root: Path) -> list[str]:
    """The decision code's output digests (bench_decide: every record, state and decision
    of the agent's and replay's shapes) with ``root``'s code."""
    done = subprocess.run(  # noqa: S603 - this interpreter, our own benchmark
        [sys.executable, "-m", "bench.bench_decide", "--no-write", "--digest"]
        + ["--count", "400", "--repeat", "1", "--customers", "200", "--warm-days", "10"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=True,
    )
    return re.findall(r"^digest (?:agent|replay): [0-9a-f]{64}$", done.stdout, re.MULTILINE)


def test_the_compiled_decision_code_decides_exactly_as_the_plain_python(tmp_path: Path) -> None:
    compiled = [m for m in NATIVE_MODULES if extensions_of(m)]
    if not compiled:
        pytest.skip("nothing compiled here (make native): no compiled code to compare")
    assert compiled == list(NATIVE_MODULES)  # all or nothing: make native builds them together
    for module in NATIVE_MODULES:  # and they are what this interpreter runs
        assert str(importlib.import_module(module).__file__).endswith(SUFFIX), module
    plain = tmp_path / "plain"
    packages = [p.parent for p in ROOT.glob("*/__init__.py")] + [ROOT / "bench"]
    for package in packages:
        skip = shutil.ignore_patterns("*.so", "__pycache__", "results")
        shutil.copytree(package, plain / package.name, ignore=skip)
    assert not list(plain.rglob("*.so"))
    here, there = digests(ROOT), digests(plain)
    assert len(here) == 2 and here == there


def test_without_a_c_compiler_or_headers_the_build_says_so_and_leaves_plain_python(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from deploy import native

    cc = {"CC": "no-such-cc -pthread"}
    monkeypatch.setattr(sysconfig, "get_config_var", cc.get)
    monkeypatch.setattr(sysconfig, "get_paths", lambda: {"include": str(tmp_path)})
    assert native.missing_toolchain() == "no C compiler: no-such-cc"
    cc["CC"] = "sh"  # a command every machine has, standing in for the compiler
    assert native.missing_toolchain() == f"no Python headers: {tmp_path / 'Python.h'}"
    (tmp_path / "Python.h").write_text("")
    assert native.missing_toolchain() is None
