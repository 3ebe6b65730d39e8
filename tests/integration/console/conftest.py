"""Fixtures of the console suite (defined in tests.support)."""

from tests.support.api import (  # noqa: F401 - fixtures are found by name
    api_db,
    module_id,
    topic_prefix,
)
from tests.support.console import (  # noqa: F401 - found by name
    console_env,
    console_url,
    make_user,
    reviews_sink,
)
