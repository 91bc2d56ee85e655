"""What the CAM maps of a run say, as tables: how focused each method's maps are, how far
the methods agree, what each costs, and the grid the maps come from.

Written by the CAM stage (and by report 2 for a cam folder made before this module),
with the findings record :mod:`explainlab.cam.findings` makes of them::

    focus.csv             key, method, focus: share of the crop at >= half the map's maximum
    method_agreement.csv  key, pair, method_a, method_b, rho (Spearman, whole maps),
                          iou_half (IoU of the >= 0.5 regions), peak_distance (pixels)
    method_summary.csv    per method: focus mean/min/max, on how many images it is the
                          broadest / the narrowest, seconds per image, × the fastest
    pair_summary.csv      per method pair: rho mean/min/max, mean IoU, median peak distance
    per_image.csv         per image: focus of each method, rho of each pair, their mean rho
    summary.json          images, crop (H, W), grid (h, w) of the target layer's maps,
                          channels, cell_px (crop pixels per grid cell); then the findings
                          record (:class:`~explainlab.cam.findings.CamFindings`)
    summary.txt           the findings, as report 2 states them
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from explainlab import runfolder
from explainlab.masks import iou, spearman, threshold_mask

HALF = 0.5  # a map's "high" region: at or above half its maximum
FILES = (
    "focus.csv",
    "method_agreement.csv",
    "method_summary.csv",
    "pair_summary.csv",
    "per_image.csv",
)
Maps = Mapping[str, Mapping[str, np.ndarray]]  # key -> method -> (H, W) map in [0, 1]


def pair_name(a: str, b: str) -> str:
    return f"{a}/{b}"


def read_maps(cam: Path, keys: Sequence[str], methods: Sequence[str]) -> dict:
    return {k: {m: np.load(Path(cam) / k / f"{m}.npy") for m in methods} for k in keys}


def focus_table(maps: Maps) -> pd.DataFrame:
    """Per image and method: the share of the crop at or above half the map's maximum."""
    rows = [
        {"key": k, "method": m, "focus": float(threshold_mask(s, HALF).mean())}
        for k, by_method in maps.items()
        for m, s in by_method.items()
    ]
    return pd.DataFrame(rows, columns=["key", "method", "focus"])


def _peak(saliency: np.ndarray) -> np.ndarray:
    return np.array(np.unravel_index(np.argmax(saliency), saliency.shape), dtype=float)


def agreement_table(maps: Maps) -> pd.DataFrame:
    """Per image and method pair: Spearman rho of the maps, IoU of their >= 0.5 regions
    and the distance between their peaks (pixels)."""
    rows = []
    for key, by_method in maps.items():
        for a, b in itertools.combinations(list(by_method), 2):
            x, y = by_method[a], by_method[b]
            rows.append(
                {
                    "key": key,
                    "pair": pair_name(a, b),
                    "method_a": a,
                    "method_b": b,
                    "rho": spearman(x, y)[0],
                    "iou_half": iou(threshold_mask(x, HALF), threshold_mask(y, HALF)),
                    "peak_distance": float(np.hypot(*(_peak(x) - _peak(y)))),
                }
            )
    columns = ["key", "pair", "method_a", "method_b", "rho", "iou_half", "peak_distance"]
    return pd.DataFrame(rows, columns=columns)


def method_table(focus: pd.DataFrame, timings: pd.DataFrame) -> pd.DataFrame:
    """Per method: focus mean, min and max; the images on which its map is the broadest
    and the narrowest of the methods; mean and total seconds, and × the fastest method."""
    wide = focus.pivot(index="key", columns="method", values="focus")
    methods = list(dict.fromkeys(focus["method"]))
    broadest = wide.idxmax(axis=1).value_counts() if len(methods) > 1 else pd.Series()
    narrowest = wide.idxmin(axis=1).value_counts() if len(methods) > 1 else pd.Series()
    seconds = timings.groupby("method")["seconds"].agg(["mean", "sum"])
    frame = pd.DataFrame(
        {
            "method": methods,
            "focus_mean": [wide[m].mean() for m in methods],
            "focus_min": [wide[m].min() for m in methods],
            "focus_max": [wide[m].max() for m in methods],
            "broadest_images": [int(broadest.get(m, 0)) for m in methods],
            "narrowest_images": [int(narrowest.get(m, 0)) for m in methods],
            "seconds_mean": [seconds["mean"].get(m, np.nan) for m in methods],
            "seconds_total": [seconds["sum"].get(m, np.nan) for m in methods],
        }
    )
    frame["times_fastest"] = frame["seconds_mean"] / frame["seconds_mean"].min()
    return frame.round(6)


def pair_table(agreement: pd.DataFrame) -> pd.DataFrame:
    """Per method pair: Spearman rho mean, min and max over the images, mean IoU of the
    >= 0.5 regions and the median distance between the peaks."""
    grouped = agreement.groupby(["pair", "method_a", "method_b"], sort=False)
    return (
        grouped.agg(
            rho_mean=("rho", "mean"),
            rho_min=("rho", "min"),
            rho_max=("rho", "max"),
            iou_mean=("iou_half", "mean"),
            peak_median=("peak_distance", "median"),
            images=("key", "count"),
        )
        .reset_index()
        .round(6)
    )


def image_table(focus: pd.DataFrame, agreement: pd.DataFrame) -> pd.DataFrame:
    """Per image: each method's focus, each pair's rho, and the mean rho of the pairs (NaN
    with a single method)."""
    wide = focus.pivot(index="key", columns="method", values="focus").add_prefix("focus_")
    wide = wide.reindex(list(dict.fromkeys(focus["key"])))
    if len(agreement):
        rho = agreement.pivot(index="key", columns="pair", values="rho")
        wide = wide.join(rho.add_prefix("rho_"))
        wide["rho_mean"] = rho.mean(axis=1)
    else:
        wide["rho_mean"] = np.nan
    return wide.reset_index().round(6)


def grid_facts(cam: Path, keys: Sequence[str], crop: tuple[int, int]) -> dict[str, Any]:
    """The run's images, crop, and the target layer's grid and channels as the stage
    recorded them in each image's item.json (None for a folder made before it did)."""
    items = [json.loads((Path(cam) / k / "item.json").read_text()) for k in keys]
    grid = items[0].get("grid") if items else None
    channels = items[0].get("channels") if items else None
    cell = float(crop[0]) / grid[0] if grid else None
    return {
        "images": len(keys),
        "crop": list(crop),
        "grid": grid,
        "channels": channels,
        "cell_px": cell,
    }


def summarise(
    cam: Path, keys: Sequence[str], methods: Sequence[str], out: Path
) -> dict[str, pd.DataFrame | dict]:
    """Every table of this module for the maps under ``cam``, written into ``out``, and
    the grid facts (``summary.json``'s first keys)."""
    maps = read_maps(cam, keys, methods)
    timings = pd.read_csv(Path(cam) / "timings.csv")
    focus, agreement = focus_table(maps), agreement_table(maps)
    crop = next(iter(next(iter(maps.values())).values())).shape if maps else (0, 0)
    tables = {
        "focus.csv": focus,
        "method_agreement.csv": agreement,
        "method_summary.csv": method_table(focus, timings),
        "pair_summary.csv": pair_table(agreement),
        "per_image.csv": image_table(focus, agreement),
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        runfolder.write_csv(out / name, frame)
    return {**tables, "summary.json": grid_facts(cam, keys, tuple(crop))}


def read_summary(folder: Path) -> dict[str, pd.DataFrame | dict] | None:
    """The tables :func:`summarise` wrote into ``folder``; None if any is missing."""
    folder = Path(folder)
    if not all((folder / n).is_file() for n in (*FILES, "summary.json")):
        return None
    tables: dict[str, pd.DataFrame | dict] = {n: pd.read_csv(folder / n) for n in FILES}
    tables["summary.json"] = json.loads((folder / "summary.json").read_text())
    return tables
