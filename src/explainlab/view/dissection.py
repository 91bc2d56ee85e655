"""The dissection of a run, unit by unit: a card per unit with its label, similarity,
Broden category, its label in the model's other runs, and its top-activating probe
images where the run computed them: the crops the model saw with the unit's region
(NetDissect's view) where the stage kept the units' maps, else the images as they are.

The labels are those the run's analysis read (``dissect/analysis``'s fingerprint names
its files: the run's own ``dissect/<model>/descriptions.csv``, or the reference runs it
stood in with), else every ``dissect/<model>/descriptions.csv`` of the run."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from explainlab import assets, runfolder
from explainlab.dissect import stability, tables
from explainlab.errors import AssetError, ExplainlabError
from explainlab.stages import stage_dir
from explainlab.view import thumbs
from explainlab.view.tables import rows_of

ANALYSIS = "analysis"
TOP_IMAGES = 5  # probe images shown per unit
MAPS = "top_maps.npz"  # the dissect stage's maps of the units on their top images
# NetDissect's region is where a unit exceeds its 0.995 quantile over the probe set; no
# such quantile is stored, so the region is where it reaches half its highest activation
# on its top images (one threshold per unit: a weaker image shows a smaller region)
REGION_FRACTION = 0.5
# a unit: its label in its model's main run; in how many of the other runs ("runs") it is
# the same, and the other labels it got there ("others")
COLUMNS = (
    "model",
    "layer",
    "unit",
    "label",
    "similarity",
    "category",  # Broden's
    "wordnet",  # WordNet's, as report 1 counts them
    "same",
    "runs",
    "others",
    "region",  # the top images show the unit's region
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


def _categories(run_dir: Path) -> dict[str, tuple[str, str]]:
    """concept -> (Broden's category, WordNet's), as the analysis wrote them."""
    rows = rows_of(stage_dir(run_dir, "dissect") / ANALYSIS / "concept_categories.csv")
    return {
        str(r["concept"]): (str(r["category"]), str(r.get("wordnet_category") or "")) for r in rows
    }


def _by_unit(d: tables.Descriptions) -> dict[tuple[str, int], str]:
    return {
        (str(r.layer), int(r.unit)): str(r.description)
        for r in d.table[["layer", "unit", "description"]].itertuples(index=False)
    }


class _Regions:
    """A model's maps of its units on their top images, and the crop the model saw."""

    def __init__(self, folder: Path) -> None:
        self.maps: dict[str, np.ndarray] = {}
        self._crops: dict[str, Any] = {}
        if not (folder / MAPS).is_file():  # an older stage's folder, another run's labels
            return
        from explainlab.images import Geometry  # torch: only for a run with maps

        try:
            self.geometry = Geometry.from_dict(runfolder.recorded_settings(folder)["geometry"])
            with np.load(folder / MAPS) as maps:
                self.maps = {layer: maps[layer] for layer in maps.files}
        except (OSError, ValueError, KeyError, TypeError):
            self.maps = {}

    def has(self, layer: str, unit: int, rank: int) -> bool:
        maps = self.maps.get(layer)
        return maps is not None and 0 <= unit < maps.shape[0] and 1 <= rank <= maps.shape[1]

    def image(self, source: str, layer: str, unit: int, rank: int):
        """The probe's crop at the page's size, dimmed outside the unit's region."""
        from PIL import Image

        from explainlab.images import center_crop, open_rgb

        if source not in self._crops:
            crop = Image.fromarray(center_crop(open_rgb(source), self.geometry))
            crop.thumbnail((thumbs.PROBE_PX, thumbs.PROBE_PX), Image.Resampling.LANCZOS)
            self._crops[source] = crop
        unit_maps = self.maps[layer][unit].astype(np.float32)
        threshold = REGION_FRACTION * float(unit_maps.max())
        return thumbs.region_image(self._crops[source], unit_maps[rank - 1], threshold)


def _top_images(
    d: tables.Descriptions, out: Path, written: dict[str, str]
) -> tuple[dict[tuple[str, int], list[str]], set[tuple[str, int]]]:
    """(layer, unit) -> the view's paths of its top probe images (written once each), and
    the set of units whose images show their region."""
    top, probes = d.folder / "top_images.csv", d.folder / "probe_images.csv"
    if not (top.is_file() and probes.is_file()):
        return {}, set()
    paths = pd.read_csv(probes).set_index("probe_index")["path"]
    best = pd.read_csv(top, dtype={"layer": str})
    best = best[best["rank"] <= TOP_IMAGES].sort_values(["layer", "unit", "rank"])
    regions = _Regions(d.folder)
    shown: dict[tuple[str, int], list[str]] = {}
    with_region: set[tuple[str, int]] = set()
    for row in best.itertuples(index=False):
        source = paths.get(row.probe_index)
        if source is None or not Path(source).is_file():
            continue
        unit, rank = (str(row.layer), int(row.unit)), int(row.rank)
        region = regions.has(*unit, rank)
        # a region is one unit's on one image; a plain image is written once for all units
        key = f"{d.folder / MAPS}:{unit[0]}/{unit[1]}/{rank}" if region else source
        if key not in written:
            rel = f"probe/{len(written)}.webp"
            image = regions.image(source, *unit, rank) if region else Path(source)
            thumbs.save_photo(image, out / rel, thumbs.PROBE_PX)
            written[key] = rel
        if region:
            with_region.add(unit)
        shown.setdefault(unit, []).append(written[key])
    return shown, with_region


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
        top, with_region = _top_images(d, out, written)
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
                    *categories.get(label, ("", "")),
                    sum(x == label for x in elsewhere) if others else None,
                    len(others) if others else None,
                    sorted({x for x in elsewhere if x is not None and x != label}),
                    (layer, unit) in with_region,
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
