"""The project's own Python files, for tests that read the code (no import needed)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.deployment import REPO


def project_sources() -> list[Path]:
    """Every ``.py`` file outside ``tests/`` and hidden folders, relative to the repository.

    Hidden folders are pruned, not walked and filtered: ``.venv`` holds tens of thousands of
    files, and ``.stack`` a running broker's, which it deletes while a walk reads them."""
    found = []
    for folder, dirs, files in os.walk(REPO):
        here = Path(folder).relative_to(REPO)
        dirs[:] = [d for d in dirs if not d.startswith(".") and here / d != Path("tests")]
        found += [here / name for name in files if name.endswith(".py")]
    return sorted(found)
