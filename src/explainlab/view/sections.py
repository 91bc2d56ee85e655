"""The viewer's "Run" page: the run's manifest, and what packages add to it.

A package registers a section as ``"module:function"`` (imported only when a view is
built, so registering loads nothing); the function takes the run folder and returns
``{title, note, tables, json}`` (every key optional) or None when the run has nothing
for it. The assignment adds its LIME parameter pickle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_SECTIONS: list[str] = []


def register_section(path: str) -> None:
    """Add ``"module:function(run_dir) -> dict | None"`` to the Run page."""
    if path not in _SECTIONS:
        _SECTIONS.append(path)


def manifest_section(run_dir: Path) -> dict[str, Any] | None:
    """manifest.json: the packages as a table, the whole record as JSON."""
    try:
        manifest = json.loads((Path(run_dir) / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    packages = manifest.get("packages", {})
    stages = manifest.get("stages", {})
    return {
        "title": "Manifest",
        "note": f"manifest.json, written {manifest.get('written', '?')}",
        "tables": [
            {
                "id": "manifest/stages",
                "title": "stages",
                "columns": ["stage", "folder", "seconds", "skipped"],
                "rows": [
                    [name, s.get("folder"), s.get("seconds"), s.get("skipped")]
                    for name, s in stages.items()
                    if isinstance(s, dict)
                ],
            },
            {
                "id": "manifest/packages",
                "title": "packages",
                "columns": ["package", "version"],
                "rows": [[k, v] for k, v in packages.items()],
            },
        ],
        "json": manifest,
    }


def collect(run_dir: Path) -> list[dict[str, Any]]:
    """Every section the run has something for: the packages' first, then the manifest."""
    from explainlab import packages
    from explainlab.stages import resolve_path

    packages.load()
    found = [resolve_path(path)(run_dir) for path in _SECTIONS]
    found.append(manifest_section(run_dir))
    return [s for s in found if s]
