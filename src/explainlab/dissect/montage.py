"""Montages: for the most frequent concepts of a model, the top-activating probe images
of a few units labelled with each. Needs our stage folder (``top_images.csv`` and
``probe_images.csv`` beside ``descriptions.csv``) and the probe images themselves."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from explainlab import plotting, runfolder
from explainlab.dissect.tables import ALL_LAYERS, Descriptions
from explainlab.errors import InputError
from explainlab.images import center_crop, open_rgb

plt = plotting.plt


@dataclass
class MontageOutcome:
    paths: list[Path]
    missing_images: int  # probe images that could not be opened (moved or deleted)
    reason: str = ""  # why no montage was made, if none


def can_montage(d: Descriptions) -> bool:
    return (d.folder / "top_images.csv").is_file() and (d.folder / "probe_images.csv").is_file()


def _crop(path: Path) -> np.ndarray | None:
    try:
        return center_crop(open_rgb(path))
    except InputError:
        return None


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:60]


def make_montages(
    d: Descriptions,
    counts: pd.DataFrame,
    out: Path,
    *,
    concepts: int = 4,
    units: int = 3,
    images: int = 5,
) -> MontageOutcome:
    if not can_montage(d):
        return MontageOutcome([], 0, f"{d.label}: no top_images.csv/probe_images.csv beside it")
    top = pd.read_csv(d.folder / "top_images.csv", dtype={"layer": str})
    probe = pd.read_csv(d.folder / "probe_images.csv").set_index("probe_index")["path"]
    mine = counts[counts["model"] == d.label]
    pooled = mine[mine["layer"] == ALL_LAYERS] if (mine["layer"] == ALL_LAYERS).any() else mine
    chosen = pooled.sort_values(["units", "concept"], ascending=[False, True]).head(concepts)
    paths, missing = [], 0
    table = d.table
    for concept in tqdm(chosen["concept"], desc=f"montages {d.name}", unit="concept", leave=False):
        labelled = table[table["description"] == concept]
        if "similarity" in labelled.columns:
            labelled = labelled.sort_values("similarity", ascending=False)
        labelled = labelled.head(units)
        fig, axes = plt.subplots(
            len(labelled), images, figsize=(7.0, 7.0 / images * len(labelled) + 0.5), squeeze=False
        )
        for row, unit in zip(axes, labelled.itertuples(index=False), strict=True):
            best = top[(top["layer"] == unit.layer) & (top["unit"] == unit.unit)].sort_values(
                "rank"
            )
            for ax, index in zip(
                row, list(best["probe_index"][:images]) + [None] * images, strict=False
            ):
                ax.set_xticks([])
                ax.set_yticks([])
                crop = (
                    _crop(Path(probe[index]))
                    if index is not None and index in probe.index
                    else None
                )
                if crop is None:
                    missing += index is not None
                    ax.set_facecolor("#dddddd")
                    continue
                ax.imshow(crop)
            score = f"\n{unit.similarity:.3g}" if "similarity" in labelled.columns else ""
            row[0].set_ylabel(f"{unit.layer}\nunit {unit.unit}{score}", fontsize=8)
        fig.suptitle(f"{d.label}: units labelled '{concept}', top-activating probe images")
        fig.tight_layout()
        path = out / f"montage_{_safe(d.name)}_{_safe(concept)}.png"
        runfolder.save_figure(fig, path, dpi=150)
        plotting.close(fig)
        paths.append(path)
    return MontageOutcome(paths, missing)
