"""What a command says when it stops early: a fault of the file system (no space,
permission, read-only, I/O error), an interrupt (Ctrl-C, SIGTERM) or a bug. One message
each, naming what failed and why, how many items of which stage are kept, and that a
rerun resumes from them; never a traceback unless asked for (``--debug``,
``EXPLAINLAB_DEBUG=1``). Light: the command line imports it to parse."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from explainlab.errors import WriteError

EXIT_FAULT = 1  # as for inputs that failed: the finished work is kept
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143
DEBUG_ENV = "EXPLAINLAB_DEBUG"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, like Ctrl-C: the current item is abandoned
    (its temporary folder removed), the finished ones stay."""


def debug_wanted(flag: bool = False) -> bool:
    return flag or os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Terminated` (only in the main thread,
    where Python delivers signals); the previous handler is restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_terminated(signum: int, frame: FrameType | None) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    """A second Ctrl-C or SIGTERM must not cut short the message of the first."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)


def ignore_interrupts() -> None:
    """From now on Ctrl-C and SIGTERM are ignored (a finished command's exit)."""
    if threading.current_thread() is threading.main_thread():
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_IGN)


def kept_lines() -> list[str]:
    """What the interrupted command leaves for a rerun, one line per unfinished stage."""
    from explainlab import runfolder

    return [f"kept: {p.describe()}; a rerun resumes from there" for p in runfolder.unfinished()]


def interrupted_message(exc: KeyboardInterrupt) -> tuple[str, int]:
    """("interrupted; rerun resumes from N of M ...", exit status 130 or 143)."""
    from explainlab import runfolder

    signal_name = "SIGTERM" if isinstance(exc, Terminated) else "SIGINT, Ctrl-C"
    progress = runfolder.unfinished()
    if not progress:
        text = f"interrupted; nothing was half done, a rerun starts where this one stopped ({signal_name})"
    else:
        resumes = ", ".join(
            f"{p.done} of {p.total}" if p.total is not None else f"{p.done} finished items"
            for p in progress
        )
        where = "; ".join(f"stage {p.stage}: {p.partial}" for p in progress)
        text = f"interrupted; rerun resumes from {resumes} ({where}; {signal_name})"
    return text, EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED


_HINTS: dict[int, str] = {
    errno.ENOSPC: "free space on that disk{free}, or write elsewhere (--out), then rerun",
    errno.EDQUOT: "your disk quota is used up{free}: free some, or write elsewhere (--out), then rerun",
    errno.EROFS: "the file system is read-only: write elsewhere (--out), then rerun",
    errno.EACCES: "you may not write there: fix the folder's permissions or write elsewhere (--out), then rerun",
    errno.EPERM: "you may not write there: fix the folder's permissions or write elsewhere (--out), then rerun",
    errno.EIO: "the disk reported an I/O error: check the disk (dmesg), then rerun",
    errno.EFBIG: "the file is larger than this file system or a limit (ulimit -f) allows: raise the limit or write elsewhere (--out), then rerun",
}


def os_error_message(exc: OSError) -> str:
    """One message for an OSError: what could not be written (or read) and why, what is
    kept, and what to do."""
    name = errno.errorcode.get(exc.errno or 0, "")
    why = f"{exc.strerror or exc}" + (f" ({name})" if name else "")
    if isinstance(exc, WriteError):
        what = f" ({exc.what})" if exc.what else ""
        head = f"could not write {exc.target}{what}: {why}"
        if exc.cause_filename and str(exc.cause_filename) != str(exc.target):
            head += f"\n  the operating system named: {exc.cause_filename}"
    elif exc.filename is not None:
        head = f"file operation failed on {exc.filename}: {why}"
    else:
        head = f"a file operation failed: {why}"
    place = exc.filename or getattr(exc, "target", None)
    hint = _HINTS.get(exc.errno or 0, "fix the cause named above, then rerun")
    hint = hint.format(free=_free_space(place))
    lines = [head, *(f"  {line}" for line in kept_lines())]
    return "\n".join(lines) + f"\n  what to do: {hint}; finished items are not redone"


def _free_space(place: object) -> str:
    if not place:
        return ""
    path = Path(str(place))
    for folder in (path, *path.parents):
        with contextlib.suppress(OSError):
            usage = shutil.disk_usage(folder)
            return f" ({folder}: {_size(usage.free)} free of {_size(usage.total)})"
    return ""


def _size(count: int) -> str:
    return f"{count / 2**30:.1f} GiB" if count >= 2**30 else f"{count / 2**20:.1f} MiB"
