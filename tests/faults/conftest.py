"""Fixtures of the fault suites (defined in tests.support)."""

from tests.support.agents import agents  # noqa: F401 - found by name
from tests.support.api import api_db, make_key, module_id  # noqa: F401 - found by name
