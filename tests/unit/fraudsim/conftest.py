"""Small simulations shared by the fraudsim unit tests (built once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudsim.simulate import SimConfig, SimulatedData, simulate
from fraudsim.tables import write_dataset

# About 116,000 transactions: big enough for stable statistics, generated in well under 1 s.
STATS_CONFIG = SimConfig(customers=1_000, terminals=2_000, days=60, seed=11)
# About 1,800 transactions over three weeks: for replaying through the live pipeline.
PARITY_CONFIG = SimConfig(customers=40, terminals=120, days=21, seed=5)
# About 34,000 transactions over two months: the smallest data the protocol runs on.
TRAIN_CONFIG = SimConfig(customers=300, terminals=600, days=60, seed=2)


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
