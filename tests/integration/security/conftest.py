"""The stack's own SASL_SSL listener, with the ACL table applied for the test's prefix; a
real API process and database for the refusal tests."""

from tests.support.api import (  # noqa: F401 - fixtures are found by name
    api_db,
    api_env,
    make_key,
    module_id,
    topic_prefix,
)
from tests.support.security import secure_stack  # noqa: F401 - found by name
