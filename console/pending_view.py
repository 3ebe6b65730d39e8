"""Maker-checker's pure rules: who may approve or reject a pending rule change, and what
it would publish (for the diff the checker reads).

No I/O: ``console/pending.py`` reads and writes the ``rule_changes_pending`` rows and
publishes an approved change through ``reference_store.rules_repo``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from console.rules_view import DiffLine, unified, version_text
from reference_store.rules_repo import UNSAVED, RuleVersion

MAX_NOTE = 2000


@dataclass(frozen=True, slots=True)
class PendingChange:
    change_id: int
    rule_id: str
    kind: str  # create, update or mode
    base_version: int | None  # the version the maker saw; None for a new rule
    changes: dict[str, Any]
    audit_action: str  # what publishing it audits: rule.created, rule.activated...
    made_by: str
    made_at: datetime
    status: str  # pending, approved or rejected
    decided_by: str | None
    decided_at: datetime | None
    note: str
    published_version: int | None


class Refused(Exception):
    """An approval or rejection that may not happen; ``self_approval`` tells a maker
    approving their own change (a 403) from a change in the wrong state (a 409)."""

    def __init__(self, message: str, self_approval: bool = False) -> None:
        super().__init__(message)
        self.self_approval = self_approval


def approval_refused(change: PendingChange, checker: str, current: int | None) -> Refused | None:
    """Why ``checker`` may not approve ``change`` now (None: they may). ``current`` is the
    rule's version now (None: the rule does not exist)."""
    if change.status != "pending":
        return Refused(f"this change was {change.status} by {change.decided_by} already")
    if checker == change.made_by:
        return Refused("you made this change: another analyst must approve it", self_approval=True)
    if change.kind == "create":
        return None if current is None else Refused("a rule with this id exists already")
    if current is None:
        return Refused("the rule no longer exists")
    if current != change.base_version:
        return Refused(
            f"the rule changed since this change was made (v{change.base_version}, now"
            f" v{current}): reject it and make it again"
        )
    return None


def rejection_refused(change: PendingChange, note: str) -> Refused | None:
    """Why ``change`` may not be rejected with ``note`` (None: it may; the maker may
    reject their own, which withdraws it)."""
    if change.status != "pending":
        return Refused(f"this change was {change.status} by {change.decided_by} already")
    if not note.strip():
        return Refused("say why in the note: the maker reads it")
    return None


def is_stale(change: PendingChange, current: int | None) -> bool:
    return change.kind != "create" and current != change.base_version


def proposed(change: PendingChange, current: RuleVersion | None, author: str) -> RuleVersion:
    """The version approving ``change`` would publish."""
    if change.kind == "create" or current is None:
        fields = {"description": "", "score_delta": None, "priority": 0, **change.changes}
        return RuleVersion(
            rule_id=change.rule_id, version=1, author=author, created_at=UNSAVED, **fields
        )
    return replace(current, **change.changes, version=current.version + 1, author=author)


def change_diff(change: PendingChange, current: RuleVersion | None) -> list[DiffLine]:
    """The unified diff from the rule now to what approval publishes (all added for a
    new rule)."""
    after = proposed(change, current, change.made_by)
    if current is None:
        return [DiffLine("add", f"+{line}") for line in version_text(after)]
    return unified(current, after)
