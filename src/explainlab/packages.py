"""Packages that extend explainlab (the assignment is one): found by their entry point in
the ``explainlab.packages`` group and imported once, the first time a registry is read
(the stages, the config tables, the shipped configs, the commands). Importing a package
registers what it adds; the core never names one."""

from __future__ import annotations

import importlib
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
