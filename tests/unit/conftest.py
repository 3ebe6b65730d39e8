"""The unit suites run without services, so they see the shipped connection settings.

The root conftest exports the local stack's connection values (its generated passwords)
for the suites that reach the stack; a unit test that builds a settings object must not
see them, or its notion of "the default" depends on the machine's `.stack/`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deploy.local.envfile import CONNECTION_VARS


@pytest.fixture(autouse=True)
def shipped_connection_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in CONNECTION_VARS:
        monkeypatch.delenv(name, raising=False)
    yield
