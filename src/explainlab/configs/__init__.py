"""The configurations that ship with explainlab's packages (read with
``importlib.resources``, so they are found from any install): each package registers its
folder of configs (:func:`register_folder`; the assignment's hold ``assignment``,
``offline`` and the LIME parameter file ``lime_params``). A name is looked up in the
folders in the order they were registered."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from explainlab import packages

_FOLDERS: list[str] = []  # packages holding shipped configs (importlib.resources anchors)


def register_folder(anchor: str) -> None:
    """Ship the files of package ``anchor`` (a module path, e.g. ``"<package>.configs"``)."""
    if anchor not in _FOLDERS:
        _FOLDERS.append(anchor)


def _entries(suffix: str) -> dict[str, Path]:
    packages.load()
    found: dict[str, Path] = {}
    for anchor in _FOLDERS:
        for entry in resources.files(anchor).iterdir():
            if entry.name.endswith(suffix) and entry.is_file():
                found.setdefault(entry.name.removesuffix(suffix), Path(str(entry)))
    return found


def packaged(name: str, suffix: str = ".toml") -> Path | None:
    """The shipped file called ``name`` (with or without ``suffix``), or None."""
    stem = name.removesuffix(suffix)
    if not stem or "/" in stem or "\\" in stem:
        return None
    return _entries(suffix).get(stem)


def names(suffix: str = ".toml") -> list[str]:
    """The names of the shipped files ending in ``suffix``."""
    return sorted(_entries(suffix))


def resolve(spec: str | Path, suffix: str = ".toml") -> Path:
    """``spec`` as a path when such a file exists, else the shipped file of that name;
    otherwise the path as given (its reader reports it missing)."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    return packaged(str(spec), suffix) or path
