"""``make native`` and ``make native-clean``: the decision code compiled by mypyc, or not.

``build`` compiles ``schemas.native.NATIVE_MODULES`` in place with the pinned mypy's
mypyc (its intermediate C and objects under ``build/native``, ignored by git), leaving an
extension module beside each source and mypyc's runtime for them in ``schemas``. Without a
C compiler or Python's headers it says so and compiles nothing: the decision code then runs
as plain Python, the same outputs, slower. ``clean`` removes what ``build`` made. ADR 0010
says why and what it changes.
"""

from __future__ import annotations

import runpy
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import typer

# schemas/native.py run as a file, not imported: importing the ``schemas`` package refuses
# stale compiled modules, which are what this command is run to replace.
_NATIVE = runpy.run_path(str(Path(__file__).resolve().parent.parent / "schemas" / "native.py"))
NATIVE_MODULES: tuple[str, ...] = _NATIVE["NATIVE_MODULES"]
ROOT: Path = _NATIVE["ROOT"]
extensions_of = _NATIVE["extensions_of"]
source_of = _NATIVE["source_of"]

app = typer.Typer(add_completion=False, help=__doc__)

# mypyc's runtime shared by the modules of one build, named into the ``schemas`` package:
# at the repository's root (mypyc's default) no process outside it could import it.
GROUP = "schemas._native"
*_PACKAGE, _NAME = GROUP.split(".")
BUILD_DIR = ROOT / "build" / "native"


@app.command()
def build() -> None:
    """Compile the decision code's modules (about a minute on two cores)."""
    clean()
    if lacking := missing_toolchain():
        typer.echo(f"not compiling the decision code ({lacking}): it runs as plain Python")
        return
    started = time.monotonic()
    sources = [str(source_of(m).relative_to(ROOT)) for m in NATIVE_MODULES]
    # mypyc's public build API (mypycify, what its own command line wraps) under
    # setuptools' build_ext, in a process of its own: C compiled two files at a time.
    script = (
        "import sys; from setuptools import setup; from mypyc.build import mypycify; "
        "setup(name='sentinel-native', ext_modules=mypycify(sys.argv[1:], opt_level='3', "
        f"group_name={GROUP!r}, target_dir={str(BUILD_DIR)!r}), script_args=['build_ext', "
        f"'--inplace', '--parallel', '2', '--build-temp', {str(BUILD_DIR)!r}, "
        f"'--build-lib', {str(BUILD_DIR / 'lib')!r}])"
    )
    done = subprocess.run(  # noqa: S603 - this interpreter, mypyc on our own sources
        [sys.executable, "-c", script, *sources],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise typer.Exit(done.returncode)
    missing = [m for m in NATIVE_MODULES if not extensions_of(m)]
    if missing:
        sys.stderr.write(f"mypyc left no extension for: {', '.join(missing)}\n")
        raise typer.Exit(1)
    typer.echo(f"compiled {len(NATIVE_MODULES)} modules in {time.monotonic() - started:.0f} s")


def missing_toolchain() -> str | None:
    """What a build lacks here: the C compiler Python was built with, or its headers."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler: {compiler}"
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not headers.exists():
        return f"no Python headers: {headers}"
    return None


@app.command()
def clean() -> None:
    """Remove the compiled modules: the decision code runs as plain Python."""
    for module in NATIVE_MODULES:
        for extension in extensions_of(module):
            extension.unlink()
    for shared in ROOT.joinpath(*_PACKAGE).glob(f"{_NAME}__mypyc.*"):
        shared.unlink()
    shutil.rmtree(BUILD_DIR, ignore_errors=True)


if __name__ == "__main__":
    app()
