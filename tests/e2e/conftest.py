"""Fixtures of the end-to-end suite (defined in tests.support)."""

from tests.support.agents import agents  # noqa: F401 - found by name
from tests.support.api import (  # noqa: F401 - fixtures are found by name
    api_db,
    api_env,
    make_key,
    module_id,
    topic_prefix,
)
from tests.support.console import (  # noqa: F401 - found by name
    console_env,
    console_url,
    make_user,
    reviews_sink,
)
from tests.support.e2e import (  # noqa: F401 - found by name
    pipeline,
    secure_pipeline,
)
