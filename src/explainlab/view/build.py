"""``<run>/view/``: index.html, its script and style (the package's static/ files), the
images, and data.js, the run as one JSON-able model assigned to a global.

A resumable stage folder (:class:`explainlab.runfolder.Stage`): the viewer is written
beside, then replaces the old one in one rename; it is up to date while the stage
folders it shows (their fingerprints), the evaluate card and the viewer's own files are
unchanged."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from explainlab import __version__, assets, runfolder
from explainlab.errors import InputError
from explainlab.stages import all_stages, get_stage
from explainlab.view import dissection, explanations, measures, sections

STATIC = ("index.html", "viewer.js", "viewer.css")
DATA = "data.js"
GLOBAL = "EXPLAINLAB_VIEW"
VERSION = 1  # of the model data.js holds


@dataclass(frozen=True)
class ViewOutcome:
    folder: Path
    skipped: bool
    images: int = 0
    units: int = 0
    tables: int = 0

    @property
    def index(self) -> Path:
        return self.folder / "index.html"

    def size(self) -> int:
        """The viewer's bytes on disk."""
        return sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())


def static_files() -> dict[str, str]:
    root = resources.files("explainlab.view") / "static"
    return {name: (root / name).read_text(encoding="utf-8") for name in STATIC}


def _settings(run_dir: Path) -> dict[str, Any]:
    folders = [s.folder for s in all_stages() if s.name != "view"]
    card = run_dir / measures.CARD
    card = card if card.is_file() else run_dir / measures.EVALUATE / measures.CARD
    return {
        "inputs": runfolder.input_keys(run_dir, folders),
        "card": assets.file_digest(card) if card.is_file() else None,
        "static": runfolder.fingerprint(static_files()),
        "version": VERSION,
    }


def collect(run_dir: Path, out: Path) -> dict[str, Any]:
    """The model of the page, its images written under ``out``."""
    return {
        "version": VERSION,
        "run": {
            "name": run_dir.name,
            "folder": str(run_dir),
            "built": datetime.now(UTC).isoformat(timespec="seconds"),
            "by": __version__,
        },
        **explanations.collect(run_dir, out),
        "measures": measures.collect(run_dir, out),
        "dissection": dissection.collect(run_dir, out),
        "sections": sections.collect(run_dir),
    }


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity made None: JavaScript's JSON has neither, and the
    run's records may (a manifest's fact, a table's empty cell read as NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def write(model: dict[str, Any], out: Path) -> None:
    for name, text in static_files().items():
        runfolder.write_text(out / name, text)
    data = json.dumps(finite(model), separators=(",", ":"), allow_nan=False)
    runfolder.write_text(out / DATA, f"window.{GLOBAL} = {data};\n")


def build_view(run_dir: Path | str, *, force: bool = False) -> ViewOutcome:
    """Write (or keep, when up to date) ``<run_dir>/view/``."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: no such run folder", hint="give a run folder (--run)")
    stage = runfolder.Stage(run_dir, get_stage("view").folder, _settings(run_dir))
    if force:
        stage.reset()
    if stage.complete and not force:
        return ViewOutcome(stage.final, skipped=True)
    with stage.finishing() as folder:
        for leftover in ("img", "fig", "probe"):  # an interrupted build's images
            shutil.rmtree(folder / leftover, ignore_errors=True)
        model = collect(run_dir, folder)
        write(model, folder)
    return ViewOutcome(
        stage.final,
        skipped=False,
        images=len(model["images"]),
        units=len(model["dissection"]["units"]),
        tables=sum(len(g["tables"]) for g in model["measures"]["groups"]),
    )
