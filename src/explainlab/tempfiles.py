"""Temporary files and folders that become the user's: ``mkstemp`` and ``mkdtemp`` create
them with modes 0600 and 0700, which an atomic rename keeps, so a report in a group folder
could not be read by the group. Here the mode is set to what ``open()`` or ``mkdir()``
would give: ``0o666`` or ``0o777`` less the umask."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def current_umask() -> int:
    """The process's umask (POSIX offers no read without a write: set it and put it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def mkstemp_beside(dest: Path, *, prefix: str, suffix: str) -> tuple[int, str]:
    """``tempfile.mkstemp`` in ``dest``'s folder, with the mode a new file gets."""
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=Path(dest).parent)
    with contextlib.suppress(OSError):  # a file system without modes: keep mkstemp's
        os.fchmod(fd, 0o666 & ~current_umask())
    return fd, name


def mkdtemp_in(folder: Path, *, prefix: str) -> Path:
    """``tempfile.mkdtemp`` in ``folder``, with the mode a new folder gets."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=folder))
    with contextlib.suppress(OSError):
        path.chmod(0o777 & ~current_umask())
    return path
