"""Small simulations shared by the fraudsim unit tests (built once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudsim.simulate import SimulatedData, simulate
from fraudsim.tables import write_dataset
from tests.support.simulations import PARITY_CONFIG, STATS_CONFIG, TRAIN_CONFIG


@pytest.fixture(scope="session")
def stats_data() -> SimulatedData:
    return simulate(STATS_CONFIG)


@pytest.fixture(scope="session")
def parity_data() -> SimulatedData:
    return simulate(PARITY_CONFIG)


@pytest.fixture(scope="session")
def train_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sim")
    write_dataset(simulate(TRAIN_CONFIG), directory)
    return directory
