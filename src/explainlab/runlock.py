"""One writer per run folder: an exclusive ``fcntl`` lock on ``<folder>/.explainlab.lock``.

Every command that writes into a run folder holds the lock for as long as it runs; a
second writer is refused at once (:class:`RunFolderBusy`, naming the holder's pid,
command and start time). The kernel releases the lock when its process ends, however it
ends, so a lock left by a killed process is simply taken over; the holder's record it
left behind is how the newcomer knows, and says so. A clean release empties the record;
a folder that the holder created and left empty but for the lock is removed again (a
command refused before any work leaves no trace). A newcomer checks, once it has the
lock, that its file is still the folder's lock file (not one removed meanwhile), so
removing it is safe. Holding is re-entrant within a process: the pipeline holds the run
folder while its stages run."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from explainlab.durations import describe
from explainlab.errors import ExplainlabError, WriteError

LOCK_FILE = ".explainlab.lock"
_READ_TRIES = 20  # the holder writes its record just after locking: wait up to ~0.5 s for it


class RunFolderBusy(ExplainlabError):
    """Another process is writing into the run folder."""

    def __init__(self, folder: Path, holder: Holder | None) -> None:
        who = holder.describe() if holder else "a process whose record could not be read"
        super().__init__(
            f"{folder} is being written by another explainlab process: {who}",
            hint="wait for it to finish (a second writer would mix two runs' files), or "
            "write elsewhere: --out OTHER_FOLDER (explainlab run: another [run] name or "
            "output_root in the config)",
        )
        self.folder = folder
        self.holder = holder


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) a run folder's lock."""

    pid: int
    command: str
    started: str  # ISO 8601, local time with its offset
    host: str = ""

    def describe(self) -> str:
        since = ""
        with contextlib.suppress(ValueError):
            minutes = datetime.now().astimezone() - datetime.fromisoformat(self.started)
            since = f" ({describe(minutes.total_seconds())} ago)"
        host = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        return f"pid {self.pid}{host}, `{self.command}`, started {self.started}{since}"

    def to_json(self) -> str:
        return json.dumps(self.__dict__) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Holder | None:
        try:
            data: Any = json.loads(text)
            return cls(
                int(data["pid"]),
                str(data["command"]),
                str(data["started"]),
                str(data.get("host", "")),
            )
        except (ValueError, KeyError, TypeError):
            return None


def current_command() -> str:
    """This process's command line as a user typed it (``explainlab cam ...``)."""
    argv = list(sys.argv)
    if argv and Path(argv[0]).name in ("explainlab", "__main__.py"):
        argv[0] = "explainlab"
    return shlex.join(argv) if argv else "python"


@dataclass
class _Held:
    fd: int
    depth: int


_HELD: dict[Path, _Held] = {}  # the folders this process holds, by resolved path


@contextlib.contextmanager
def hold_run_folder(
    folder: Path | str,
    *,
    command: str | None = None,
    notify: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Hold ``folder``'s lock for the block (creating the folder); raise
    :class:`RunFolderBusy` at once when another process holds it. ``notify`` receives
    the note printed when a lock left by a process that ended without releasing it is
    taken over (default: standard error)."""
    folder = Path(folder)
    key = folder.resolve()
    held = _HELD.get(key)
    if held is not None:  # re-entrant: this process already holds it
        held.depth += 1
        try:
            yield folder
        finally:
            held.depth -= 1
        return
    created = _missing_folders(folder)  # what this holder creates, deepest first
    fd = _acquire(folder)
    try:
        left = _read_holder(fd, tries=1)
        if left is not None:
            (notify or _print_note)(
                f"note: {folder} was locked by {left.describe()}, which ended without "
                "releasing it (killed?); taking over: its finished items are kept and resumed"
            )
        _write_record(
            fd, Holder(os.getpid(), command or current_command(), _now(), socket.gethostname())
        )
        _HELD[key] = _Held(fd, 1)
        try:
            yield folder
        finally:
            del _HELD[key]
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # a clean release leaves no record behind
                _remove_if_unused(folder, created)
    finally:
        os.close(fd)  # releases the lock


def _missing_folders(folder: Path) -> list[Path]:
    missing = []
    for path in (folder, *folder.parents):
        if path.exists():
            break
        missing.append(path)
    return missing


def _remove_if_unused(folder: Path, created: list[Path]) -> None:
    """Remove the folders this holder created if nothing but the lock was written."""
    if not created or [p.name for p in folder.iterdir()] != [LOCK_FILE]:
        return
    (folder / LOCK_FILE).unlink()  # still locked: a newcomer sees it gone and retries
    for path in created:
        path.rmdir()  # stops (OSError) at the first folder that holds something else


def _acquire(folder: Path) -> int:
    """An open, exclusively locked descriptor of ``folder``'s lock file."""
    path = folder / LOCK_FILE
    while True:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise WriteError(exc, path, "the run folder's lock") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if _same_file(fd, path):
                return fd
            os.close(fd)  # its holder removed the file meanwhile: lock the folder's new one
        except BlockingIOError:
            holder = _read_holder(fd, tries=_READ_TRIES)
            os.close(fd)
            raise RunFolderBusy(folder, holder) from None
        except BaseException:
            os.close(fd)
            raise


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def holder_of(folder: Path | str) -> Holder | None:
    """Who holds ``folder``'s lock now, as far as its record tells (None when nobody
    does). Read without locking, so asking never gets in a writer's way."""
    try:
        text = (Path(folder) / LOCK_FILE).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    holder = Holder.from_json(text)
    return holder if holder is not None and _alive(holder) else None


def _alive(holder: Holder) -> bool:
    if holder.host and holder.host != socket.gethostname():
        return True  # another machine's process: it cannot be asked from here
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_holder(fd: int, *, tries: int) -> Holder | None:
    for attempt in range(tries):
        os.lseek(fd, 0, os.SEEK_SET)
        holder = Holder.from_json(os.read(fd, 65536).decode("utf-8", "replace"))
        if holder is not None or attempt == tries - 1:
            return holder
        time.sleep(0.025)
    return None


def _write_record(fd: int, holder: Holder) -> None:
    """Best effort: on a full disk the lock holds all the same, only without a record
    (a second writer is still refused, told that the holder could not be read)."""
    data = holder.to_json().encode()
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)


def _print_note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")
