"""The replay's errors: one root, so the command line shows them as messages, not traces."""

from __future__ import annotations


class ReplayError(Exception):
    """A replay that cannot run as asked (bad option, unknown rule, unreachable service)."""


class LiveTopicRefused(ReplayError):
    """``--to-topic`` named a live topic: replayed decisions never go there."""
