"""Console roles, ordered: a viewer reads, an analyst also acts on cases and rules, an admin
also manages users. A page or action names the least role it needs."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, required: Role | str) -> bool:
        """Whether this role may do what ``required`` may."""
        return self.rank >= Role(required).rank


_RANK = {Role.VIEWER: 0, Role.ANALYST: 1, Role.ADMIN: 2}
