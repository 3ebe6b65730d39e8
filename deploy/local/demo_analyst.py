"""The console's demo analyst that `make up` creates, its password in
``.stack/demo/console-analyst`` (mode 0600).

The file is the truth: whenever it exists, it holds the demo analyst's password.
- file and user both there (``make up`` run again): both kept, nothing written;
- the file there, the user not (a fresh database): the user is created from the file;
- the file missing: a new password is generated into it, and the user created with it, or,
  if the user exists already (the file was deleted), the user's password is reset to it
  (``sentinel users password``, audited).
A demo analyst an admin disabled stays disabled: this never re-enables anyone.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path

from console.cli import EXIT_USER_EXISTS
from deploy.local.secret_file import write_private

USERNAME = "demo-analyst"
PASSWORD_BYTES = 24  # 32 URL-safe characters


class Outcome(StrEnum):
    CREATED = "created"
    KEPT = "kept"
    RESET = "reset"


class DemoAnalystError(RuntimeError):
    """A `sentinel users` command failed for a reason other than the user existing."""


# Runs `sentinel <args>`; returns its exit status.
Runner = Callable[[Sequence[str]], int]


def password_file(stack_dir: Path) -> Path:
    return stack_dir / "demo" / "console-analyst"


def new_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


def ensure(path: Path, run: Runner) -> Outcome:
    """Make the demo analyst's password the one in ``path``, as the module docstring says."""
    fresh = not (path.exists() or path.is_symlink())
    if fresh:
        write_private(path, new_password() + "\n")
    status = run(("users", "create", USERNAME, "--role", "analyst", "--password-file", str(path)))
    if status == 0:
        return Outcome.CREATED
    if status != EXIT_USER_EXISTS:
        raise DemoAnalystError(f"sentinel users create {USERNAME} exited with {status}")
    if not fresh:
        return Outcome.KEPT
    status = run(("users", "password", USERNAME, "--password-file", str(path)))
    if status != 0:
        raise DemoAnalystError(f"sentinel users password {USERNAME} exited with {status}")
    return Outcome.RESET
