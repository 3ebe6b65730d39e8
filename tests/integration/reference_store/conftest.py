"""Fixtures of the rules relay suite (defined in tests.support)."""

from tests.support.api import (  # noqa: F401 - fixtures are found by name
    api_db,
    api_env,
    module_id,
    topic_prefix,
)
