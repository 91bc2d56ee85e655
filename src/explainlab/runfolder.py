"""The run folder: atomic writes, and stages that resume after an interruption.

A stage (``cam``, ``lime``, ...) writes into ``<run>/.<stage>.partial/``, one item
(usually one image) at a time; each item folder is renamed into place only when
complete. When every item is done, the partial folder replaces ``<run>/<stage>/`` in
one rename. A rerun with the same fingerprint skips a complete stage, and resumes an
interrupted one from its finished items; a different fingerprint starts over. So an
interrupted run never leaves half a result, and nothing finished is redone.

An OSError while writing (no space, permission, read-only file system, I/O error) is
raised as :class:`explainlab.errors.WriteError`, naming the file and what was being
written; :func:`unfinished` tells, after a fault or an interrupt, how many items of which
stage are kept for the rerun.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from explainlab.errors import WriteError
from explainlab.faults import raise_if_interrupted
from explainlab.tempfiles import mkdtemp_in, mkstemp_beside

FINGERPRINT_FILE = "fingerprint.json"
_DONE = ".done"


# --- atomic files ----------------------------------------------------------------------


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds.
    An OSError on the way is a :class:`WriteError` naming ``path``."""
    path = Path(path)
    with _writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = mkstemp_beside(path, prefix=f".{path.name}.", suffix=".tmp" + path.suffix)
        os.close(fd)
    tmp = Path(tmp_name)
    try:
        with _writing(path):
            yield tmp
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _writing(target: Path, what: str = "") -> Iterator[None]:
    """Turn an OSError of the block into a WriteError naming ``target`` (once)."""
    try:
        yield
    except WriteError:
        raise
    except OSError as exc:
        raise WriteError(exc, target, what) from exc


@contextlib.contextmanager
def _named_as_final(tmp: Path, final: Path, what: str) -> Iterator[None]:
    """A WriteError inside an item's temporary folder names the file by its place in
    the item (``<partial>/kite/gradcam.npy``), not by the temporary folder's name."""
    try:
        yield
    except WriteError as exc:
        target = Path(str(exc.target))
        if not target.is_relative_to(tmp):
            raise
        cause = OSError(exc.errno, exc.strerror, exc.cause_filename)
        raise WriteError(cause, final / target.relative_to(tmp), what) from exc


def write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_json(path: Path, obj: Any) -> Path:
    return write_text(
        path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n"
    )


def save_npy(path: Path, array: np.ndarray) -> Path:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        # through Python's write(), not numpy's fwrite: a full disk then raises an OSError
        # with its errno (numpy's own says only "N requested and M written")
        np.save(_PythonWrites(f), array)
    return path


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Named arrays in one compressed ``.npz``, atomically (zipfile writes through the
    file's own write(): a full disk raises an OSError with its errno)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    return path


class _PythonWrites:
    def __init__(self, file: Any) -> None:
        self.write = file.write


def save_figure(figure: Any, path: Path, **kwargs: Any) -> Path:
    """Save a matplotlib figure atomically (the format follows ``path``'s suffix)."""
    kwargs.setdefault("dpi", 150)
    kwargs.setdefault("bbox_inches", "tight")
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format=path.suffix.lstrip(".") or "png", **kwargs)
    return path


def write_csv(path: Path, frame: Any) -> Path:
    """Write a pandas DataFrame as CSV atomically, without the index."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def fingerprint(obj: Any) -> str:
    """A stable hash of JSON-able settings and inputs: what changes the numbers."""
    text = json.dumps(obj, sort_keys=True, default=_json_default)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- resumable stages ------------------------------------------------------------------


def recorded_settings(folder: Path) -> Any:
    """The settings a stage folder was made with, as its fingerprint file recorded them."""
    return json.loads((Path(folder) / FINGERPRINT_FILE).read_text())["settings"]


def input_keys(run_dir: Path, folders: Sequence[str]) -> dict[str, str]:
    """The fingerprint key of every finished stage folder (and subfolder) of ``folders``
    under ``run_dir``: what a stage built from other stages' outputs records, so that it
    is up to date exactly when they are."""
    keys: dict[str, str] = {}
    for name in folders:
        folder = Path(run_dir) / name
        for path in sorted([*folder.glob(FINGERPRINT_FILE), *folder.glob(f"*/{FINGERPRINT_FILE}")]):
            try:
                keys[str(path.parent.relative_to(run_dir))] = json.loads(path.read_text())["key"]
            except (OSError, ValueError, KeyError, TypeError):
                continue  # an unreadable fingerprint: that input counts as absent
    return keys


class Stage:
    """One stage's output folder under a run folder (see module docstring).

    >>> stage = Stage(run_dir, "cam", {"model": "resnet50", ...})
    >>> if not stage.complete:
    ...     for key in keys:
    ...         if stage.has_item(key):
    ...             continue
    ...         with stage.item(key) as folder:
    ...             ...  # write this image's files into folder
    ...     with stage.finishing() as folder:
    ...         ...  # write stage-wide files (tables) into folder
    """

    def __init__(
        self, run_dir: Path, name: str, settings: Any, *, items: Sequence[str] = ()
    ) -> None:
        self.run_dir = Path(run_dir)
        self.name = name
        self.settings = settings
        self.items = tuple(items)  # the items it will write, when known (for progress)
        self.key = fingerprint(settings)
        self.final = self.run_dir / name
        self.partial = self.run_dir / f".{name}.partial"

    @staticmethod
    def _key_of(folder: Path) -> str | None:
        try:
            return json.loads((folder / FINGERPRINT_FILE).read_text())["key"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @property
    def complete(self) -> bool:
        """The final folder exists and was made with these settings."""
        return self._key_of(self.final) == self.key

    def _open_partial(self) -> None:
        _OPEN[self.partial.resolve()] = self
        if self.partial.is_dir() and self._key_of(self.partial) == self.key:
            return
        shutil.rmtree(self.partial, ignore_errors=True)
        with _writing(self.partial, f"the folder of stage {self.name}"):
            self.partial.mkdir(parents=True)
        write_json(self.partial / FINGERPRINT_FILE, {"key": self.key, "settings": self.settings})

    def reset(self) -> None:
        """Drop what an earlier, interrupted run left: the next write starts from nothing
        (``--force``). The final folder stays until the new one replaces it."""
        shutil.rmtree(self.partial, ignore_errors=True)

    @property
    def folder(self) -> Path:
        """The folder being written (the partial one)."""
        self._open_partial()
        return self.partial

    def has_item(self, item: str) -> bool:
        return (self.partial / item / _DONE).is_file() and self._key_of(self.partial) == self.key

    @contextlib.contextmanager
    def item(self, item: str) -> Iterator[Path]:
        """A fresh folder for one item; it appears under the stage only if the block succeeds."""
        raise_if_interrupted()  # one that landed where Python swallowed it
        self._open_partial()
        target = self.partial / item
        what = f"item {item!r} of stage {self.name}"
        with _writing(target, what):
            tmp = mkdtemp_in(self.partial, prefix=f".{item}.")
        try:
            with _writing(target, what), _named_as_final(tmp, target, what):
                yield tmp
                (tmp / _DONE).touch()
                if target.exists():
                    shutil.rmtree(target)
                os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @contextlib.contextmanager
    def finishing(self) -> Iterator[Path]:
        """Write the stage-wide files; on success the stage becomes final in one rename."""
        self._open_partial()
        yield self.partial
        self.commit()

    def _drop_leftovers(self) -> None:
        """Remove what a killed process left half-written (hidden temporary entries)."""
        for entry in self.partial.iterdir():
            if entry.name.startswith("."):
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

    def commit(self) -> Path:
        raise_if_interrupted()
        with _writing(self.final, f"stage {self.name}, made final"):
            self._drop_leftovers()
            old = None
            if self.final.exists():
                old = self.run_dir / f".{self.name}.old-{os.getpid()}"
                os.replace(self.final, old)
            os.replace(self.partial, self.final)
        _OPEN.pop(self.partial.resolve(), None)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final

    def progress(self) -> Progress:
        """How far the partial folder is: its finished items (of ``items`` when known)."""
        if self.items:
            done = sum(self.has_item(item) for item in self.items)
        else:
            done = sum(
                (entry / _DONE).is_file()
                for entry in _entries(self.partial)
                if not entry.name.startswith(".")
            )
        return Progress(self.name, self.partial, done, len(self.items) or None)


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []


@dataclass(frozen=True)
class Progress:
    """Finished items of one stage's partial folder: what a rerun resumes from."""

    stage: str
    partial: Path
    done: int
    total: int | None  # None when the stage did not say how many items it writes

    def describe(self) -> str:
        of = f"{self.done} of {self.total}" if self.total is not None else f"{self.done}"
        return f"{of} items of stage {self.stage} (in {self.partial})"


# The stages this process opened and has not made final yet, by partial folder.
_OPEN: dict[Path, Stage] = {}


def unfinished() -> list[Progress]:
    """The stages this process began writing and did not finish (their partial folders
    still there): after a fault or an interrupt, what a rerun resumes from."""
    return [stage.progress() for stage in _OPEN.values() if stage.partial.is_dir()]


def forget_unfinished() -> None:
    """Start a new command: stages opened by an earlier one in this process no longer count."""
    _OPEN.clear()
