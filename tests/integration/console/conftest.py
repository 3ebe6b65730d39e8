"""Fixtures of the console suite (defined in tests.support)."""

from tests.support.api import (  # noqa: F401 - fixtures are found by name
    api_db,
    api_env,
    module_id,
    topic_prefix,
)
from tests.support.console import (  # noqa: F401 - found by name
    console_env,
    console_url,
    make_user,
    reviews_sink,
)
from tests.support.relay import rules_relay  # noqa: F401
