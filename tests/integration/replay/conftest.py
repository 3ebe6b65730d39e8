"""Fixtures of the replay suite (defined in tests.support.agents)."""

from tests.support.agents import agents  # noqa: F401 - found by name
