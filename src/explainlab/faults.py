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
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

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


_PENDING: list[type[KeyboardInterrupt]] = []  # the interrupt of the running command, if any


@contextlib.contextmanager
def interrupts_raised() -> Iterator[None]:
    """While the block runs, Ctrl-C raises KeyboardInterrupt and SIGTERM
    :class:`Terminated`, where the program is (only in the main thread, where Python
    delivers signals). Python swallows such an exception when it lands in a finalizer or
    a weakref callback (printing "Exception ignored"): the interrupt is remembered, that
    report muted, and :func:`raise_if_interrupted` raises it again at the next item of a
    stage. The previous handlers are restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        kind = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        _PENDING[:] = [kind]
        raise kind

    numbers = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.signal(number, interrupt) for number in numbers}
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _muting_interrupts(previous_hook)
    _PENDING.clear()
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
        for number, handler in previous.items():
            signal.signal(number, handler)
        _PENDING.clear()


def _muting_interrupts(hook: Callable[[Any], None]) -> Callable[[Any], None]:
    def unraisable(report: Any) -> None:
        if not isinstance(report.exc_value, KeyboardInterrupt):
            hook(report)

    return unraisable


def raise_if_interrupted() -> None:
    """Raise the interrupt that Python swallowed (see :func:`interrupts_raised`)."""
    if _PENDING:
        raise _PENDING[0]


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


def exit_now(status: int) -> None:
    """End the process with ``status`` after an interrupt, skipping the interpreter's
    exit: an interrupt that landed in code run by a C extension (during torch's import,
    say) leaves CPython marked as killed by SIGINT, and it would end with that signal
    instead of 130 even though the interrupt was handled. Everything is written by now."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


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
