"""The configurations that ship with explainlab (read with ``importlib.resources``, so
they are found from any install): ``assignment``, ``offline`` and the LIME parameter
file ``lime_params``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def packaged(name: str, suffix: str = ".toml") -> Path | None:
    """The shipped file called ``name`` (with or without ``suffix``), or None."""
    stem = name.removesuffix(suffix)
    if not stem or "/" in stem or "\\" in stem:
        return None
    entry = resources.files(__name__) / f"{stem}{suffix}"
    return Path(str(entry)) if entry.is_file() else None


def names(suffix: str = ".toml") -> list[str]:
    """The names of the shipped files ending in ``suffix``."""
    return sorted(
        e.name.removesuffix(suffix)
        for e in resources.files(__name__).iterdir()
        if e.name.endswith(suffix)
    )


def resolve(spec: str | Path, suffix: str = ".toml") -> Path:
    """``spec`` as a path when such a file exists, else the shipped file of that name;
    otherwise the path as given (its reader reports it missing)."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    return packaged(str(spec), suffix) or path
