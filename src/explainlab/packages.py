"""Packages that extend explainlab (the assignment is one): found by their entry point in
the ``explainlab.packages`` group and imported once, the first time a registry is read
(the stages, the config tables, the shipped configs, the commands). Importing a package
registers what it adds; the core never names one."""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points

GROUP = "explainlab.packages"
_loaded: list[str] | None = None


def load() -> list[str]:
    """Import every installed package (once); their module names, by entry point name."""
    global _loaded
    if _loaded is None:
        _loaded = []
        for point in sorted(entry_points(group=GROUP), key=lambda p: p.name):
            if point.value not in _loaded:
                _loaded.append(point.value)
                importlib.import_module(point.value)
    return list(_loaded)


def import_modules(package: str, skip: tuple[str, ...] = ("registry",)) -> None:
    """Import every public module of ``package`` (but ``skip``): a registry's members
    register themselves when imported."""
    path = importlib.import_module(package).__path__
    for info in pkgutil.iter_modules(path):
        if not info.name.startswith("_") and info.name not in skip:
            importlib.import_module(f"{package}.{info.name}")
