"""Fixtures of the ingest API suites (defined in tests.support.api)."""

from tests.support.api import (  # noqa: F401 - fixtures are found by name
    api_db,
    api_env,
    api_url,
    ingest_key,
    make_key,
    module_id,
    topic_prefix,
)
from tests.support.relay import rules_relay  # noqa: F401
