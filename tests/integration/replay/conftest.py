"""Fixtures of the replay suite: the agents (defined in tests.support.agents) and a
migrated ledger database of the test's own."""

from collections.abc import Iterator

import pytest

from tests.integration.ledger_sink.support import migrated_database
from tests.support.agents import agents  # noqa: F401 - found by name


@pytest.fixture
def ledger() -> Iterator[str]:
    """A ledger database of this test's own, migrated; its DSN."""
    with migrated_database() as dsn:
        yield dsn
