"""The dissection of a run, unit by unit: a card per unit with its label, similarity,
Broden category, its label in the model's other runs, and its top-activating probe
images where the run computed them.

The labels are those the run's analysis read (``dissect/analysis``'s fingerprint names
its files: the run's own ``dissect/<model>/descriptions.csv``, or the reference runs it
stood in with), else every ``dissect/<model>/descriptions.csv`` of the run."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from explainlab import assets, runfolder
from explainlab.dissect import stability, tables
from explainlab.errors import AssetError, ExplainlabError
from explainlab.stages import stage_dir
from explainlab.view import thumbs
from explainlab.view.tables import rows_of

ANALYSIS = "analysis"
TOP_IMAGES = 5  # probe images shown per unit
# a unit: its label in its model's main run; in how many of the other runs ("runs") it is
# the same, and the other labels it got there ("others")
COLUMNS = (
    "model",
    "layer",
    "unit",
    "label",
    "similarity",
    "category",
    "same",
    "runs",
    "others",
    "top",
)


def _located(run_dir: Path, recorded: str) -> Path | None:
    """A labels file the analysis read: where it was, in this run folder (a moved run),
    or in the asset registry (the mirror, by name)."""
    path = Path(recorded)
    if path.is_file():
        return path
    moved = stage_dir(run_dir, "dissect") / path.parent.name / path.name
    if moved.is_file():
        return moved
    with contextlib.suppress(AssetError):
        return assets.fetch(path.name, allow_download=False)
    return None


def _label_files(run_dir: Path) -> tuple[list[Path], list[Path], list[str]]:
    """(main files, further runs, notes on files not found)."""
    dissect = stage_dir(run_dir, "dissect")
    try:
        settings = runfolder.recorded_settings(dissect / ANALYSIS)
    except (OSError, ValueError, KeyError):
        found = sorted(p for p in dissect.glob("*/descriptions.csv") if p.parent.name != ANALYSIS)
        return found, [], []
    located: dict[str, list[Path]] = {"inputs": [], "runs": []}
    notes = []
    for part in located:
        for label, recorded, *_ in settings.get(part, []):
            path = _located(run_dir, recorded)
            if path is None:
                notes.append(f"{label}: {recorded} is not at hand, its units are not shown")
            else:
                located[part].append(path)
    return located["inputs"], located["runs"], notes


def _categories(run_dir: Path) -> dict[str, str]:
    rows = rows_of(stage_dir(run_dir, "dissect") / ANALYSIS / "concept_categories.csv")
    return {str(r["concept"]): str(r["category"]) for r in rows}


def _by_unit(d: tables.Descriptions) -> dict[tuple[str, int], str]:
    return {
        (str(r.layer), int(r.unit)): str(r.description)
        for r in d.table[["layer", "unit", "description"]].itertuples(index=False)
    }


def _top_images(d: tables.Descriptions, out: Path, written: dict[str, str]) -> dict:
    """(layer, unit) -> the view's paths of its top probe images (written once each)."""
    top, probes = d.folder / "top_images.csv", d.folder / "probe_images.csv"
    if not (top.is_file() and probes.is_file()):
        return {}
    paths = pd.read_csv(probes).set_index("probe_index")["path"]
    best = pd.read_csv(top, dtype={"layer": str})
    best = best[best["rank"] <= TOP_IMAGES].sort_values(["layer", "unit", "rank"])
    shown: dict[tuple[str, int], list[str]] = {}
    for row in best.itertuples(index=False):
        source = paths.get(row.probe_index)
        if source is None or not Path(source).is_file():
            continue
        if source not in written:
            rel = f"probe/{len(written)}.webp"
            thumbs.save_photo(Path(source), out / rel, thumbs.PROBE_PX)
            written[source] = rel
        shown.setdefault((str(row.layer), int(row.unit)), []).append(written[source])
    return shown


def collect(run_dir: Path, out: Path) -> dict[str, Any]:
    """``{models, columns, units, notes, about}``; probe images written under ``out``."""
    mains, runs, notes = _label_files(run_dir)
    if not mains:
        return {"models": [], "columns": list(COLUMNS), "units": [], "notes": notes}
    try:
        groups = stability.with_runs(
            [tables.read_descriptions(p) for p in mains],
            [tables.read_descriptions(p) for p in runs],
        )
    except ExplainlabError as exc:
        return {"models": [], "columns": list(COLUMNS), "units": [], "notes": [*notes, str(exc)]}
    categories = _categories(run_dir)
    models, units, written, taken = [], [], {}, set()
    for group in groups:
        d = group.main
        name = d.model if d.model not in taken else d.name
        taken.add(name)
        others = [_by_unit(r) for r in group.runs[1:]]
        top = _top_images(d, out, written)
        models.append({"name": name, "label": d.label, "runs": group.names, "layers": d.layers})
        has_similarity = "similarity" in d.table.columns
        for row in d.table.itertuples(index=False):
            layer, unit, label = str(row.layer), int(row.unit), str(row.description)
            similarity = float(row.similarity) if has_similarity else None
            elsewhere = [o.get((layer, unit)) for o in others]
            units.append(
                [
                    name,
                    layer,
                    unit,
                    label,
                    None
                    if similarity is None or similarity != similarity
                    else round(similarity, 4),
                    categories.get(label, ""),
                    sum(x == label for x in elsewhere) if others else None,
                    len(others) if others else None,
                    sorted({x for x in elsewhere if x is not None and x != label}),
                    top.get((layer, unit), []),
                ]
            )
    return {
        "models": models,
        "columns": list(COLUMNS),
        "units": units,
        "notes": notes + _about(run_dir),
        "probes": bool(written),
    }


def _about(run_dir: Path) -> list[str]:
    """What the labels are (sources.json's title and caveats)."""
    try:
        sources = json.loads(
            (stage_dir(run_dir, "dissect") / ANALYSIS / "sources.json").read_text()
        )
    except (OSError, ValueError):
        return []
    return [x for x in [sources.get("title", ""), *sources.get("caveats", [])] if x]
