"""Files that hold a secret (the demo API key, the stack's env file, Redis's config): created
private, mode 0600, from the start."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_private(path: Path, text: str) -> None:
    """Create ``path`` readable by its owner only and write ``text``; refuse if it exists.

    The mode is given to ``os.open`` itself: a file written and then ``chmod``-ed is readable
    by anyone (under the usual umask 022) in between. ``O_EXCL`` and ``O_NOFOLLOW`` mean a
    file or symlink someone planted at the path is never written through.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def replace_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (new or replaced whole), readable by its owner only.

    The text goes to a new file beside it, which ``mkstemp`` creates 0600 and exclusively,
    then is renamed over ``path``: a reader sees the old file or the new one, never a half,
    and never a moment where the secret is readable by others.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
