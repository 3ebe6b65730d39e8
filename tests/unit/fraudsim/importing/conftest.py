"""The foreign-shaped CSV the `sentinel import` tests read (tests/support/foreign_csv.py)."""

from __future__ import annotations

import pytest

from tests.support.foreign_csv import FOREIGN_CONFIG, Foreign, write_foreign


@pytest.fixture(scope="session")
def foreign(tmp_path_factory: pytest.TempPathFactory) -> Foreign:
    return write_foreign(FOREIGN_CONFIG, tmp_path_factory.mktemp("foreign") / "export.csv")
