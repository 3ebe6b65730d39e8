"""The labelled card-transaction simulator (Le Borgne et al. design plus extra scenarios)."""

from fraudsim.simulate.config import SCENARIOS, SimConfig
from fraudsim.simulate.dataset import SimulatedData, simulate

__all__ = ["SCENARIOS", "SimConfig", "SimulatedData", "simulate"]
