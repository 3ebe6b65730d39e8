"""Fixtures of the fault suites (defined in tests.support.api)."""

from tests.support.api import api_db, make_key, module_id  # noqa: F401 - found by name
