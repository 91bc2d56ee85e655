"""The run folder: atomic writes, and stages that resume after an interruption.

A stage (``cam``, ``lime``, ...) writes into ``<run>/.<stage>.partial/``, one item
(usually one image) at a time; each item folder is renamed into place only when
complete. When every item is done, the partial folder replaces ``<run>/<stage>/`` in
one rename. A rerun with the same fingerprint skips a complete stage, and resumes an
interrupted one from its finished items; a different fingerprint starts over. So an
interrupted run never leaves half a result, and nothing finished is redone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

FINGERPRINT_FILE = "fingerprint.json"
_DONE = ".done"


# --- atomic files ----------------------------------------------------------------------


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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
        np.save(f, array)
    return path


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

    def __init__(self, run_dir: Path, name: str, settings: Any) -> None:
        self.run_dir = Path(run_dir)
        self.name = name
        self.settings = settings
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
        if self.partial.is_dir() and self._key_of(self.partial) == self.key:
            return
        shutil.rmtree(self.partial, ignore_errors=True)
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
        self._open_partial()
        tmp = Path(tempfile.mkdtemp(prefix=f".{item}.", dir=self.partial))
        try:
            yield tmp
            (tmp / _DONE).touch()
            target = self.partial / item
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
        self._drop_leftovers()
        old = None
        if self.final.exists():
            old = self.run_dir / f".{self.name}.old-{os.getpid()}"
            os.replace(self.final, old)
        os.replace(self.partial, self.final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final
