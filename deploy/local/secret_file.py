"""Files that hold a secret (the demo API key): created private, mode 0600, from the start."""

from __future__ import annotations

import os
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
