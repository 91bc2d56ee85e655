"""The run's tables and figures, stage by stage: every stage folder's CSV tables and PNG
figures (the dissection's analysis included), and the report card of ``explainlab
evaluate`` when the run holds one. Figures are written under ``<view>/fig/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from explainlab.stages import all_stages
from explainlab.view import thumbs
from explainlab.view.tables import read_table

# what the viewer leaves out: itself, and the reports (their tables are the stages')
SKIPPED_STAGES = ("view", "report")
SUBFOLDERS = {"dissect": ("", "analysis")}  # the dissection's tables are its analysis'
EVALUATE = "evaluate"
CARD = "card.csv"  # what marks the folder of a report card (explainlab.evaluation.merge)


def _groups(run_dir: Path) -> list[tuple[str, Path]]:
    """(name, folder) of every folder whose tables and figures are shown, in data-flow order."""
    found = []
    for spec in all_stages():
        if spec.name in SKIPPED_STAGES:
            continue
        for sub in SUBFOLDERS.get(spec.name, ("",)):
            folder = run_dir / spec.folder / sub
            if folder.is_dir():
                found.append((f"{spec.name}/{sub}" if sub else spec.name, folder))
    for folder in (run_dir, run_dir / EVALUATE):  # evaluate --out the run folder, or inside it
        if (folder / CARD).is_file():
            found.append((EVALUATE, folder))
    return found


def _title(path: Path) -> str:
    return path.stem.replace("_", " ")


def collect(run_dir: Path, out: Path) -> dict[str, Any]:
    """``{groups: [{name, tables, figures}]}``, the figures written under ``out/fig``."""
    groups = []
    for name, folder in _groups(run_dir):
        tables = [
            read_table(p, title=_title(p), ident=f"{name}/{p.name}")
            for p in sorted(folder.glob("*.csv"))
        ]
        figures = []
        for path in sorted(folder.glob("*.png")):
            rel = f"fig/{name}/{path.stem}.webp"
            thumbs.save_figure(path, out / rel)
            figures.append({"title": _title(path), "src": rel, "file": path.name})
        if tables or figures:
            groups.append({"name": name, "tables": tables, "figures": figures})
    return {"groups": groups}
