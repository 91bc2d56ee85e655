"""The numbers report 3 derives from a run's LIME tables, as plain functions over them:

- :func:`image_table`: per image, the explained class against the true one, the
  superpixels of the explanation and its samples (``lime/explanations.csv``);
- :func:`board_summary`: the pickle's parameters against lime's defaults on the local
  scoreboard (``lime_score/scoreboard_run.csv``, ``scoreboard_defaults.csv``): mean IoU,
  counted cost and wall time of each, and their ratios;
- :func:`seed_noise`: lime's defaults scored at the tuner's sampling seeds (random_state
  1 and 2, against the same reference): per image the lowest and highest IoU and their
  difference, and the mean and largest difference, which is the sampling noise of one IoU.

The report writes them under ``reports/tables/3_lime/`` and reads its numbers there."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd


def cost(board: pd.DataFrame) -> pd.Series:
    """Counted cost per image (wall seconds for a scoreboard written before costs were)."""
    return board["cost_seconds"] if "cost_seconds" in board else board["seconds"]


def ratio(a: float, b: float) -> float:
    """a / b, NaN where b is 0 or missing."""
    return float(a) / float(b) if b and b == b else math.nan


def image_table(explanations: pd.DataFrame) -> pd.DataFrame:
    """key, explained and true class, whether they agree (NaN: no true class known),
    superpixels and samples of each image's explanation."""
    known = explanations["true_id"].notna()
    correct = (explanations["label"] == explanations["true_id"]).where(known)
    return pd.DataFrame(
        {
            "key": explanations["key"],
            "label": explanations["label"],
            "label_name": explanations["label_name"],
            "true_id": explanations["true_id"],
            "correct": correct.map({True: "True", False: "False"}),
            "superpixels": explanations["num_segments"],
            "num_samples": explanations["num_samples"],
        }
    )


def board_summary(run: pd.DataFrame, defaults: pd.DataFrame | None) -> dict[str, Any]:
    """The run's scoreboard against lime's defaults', over the images both measured (a
    run stopped at the cutoff has no IoU): means of each, the run's ratios to them, and
    how many runs were not measured (NaN ratios where no image was measured by both)."""
    defaults = defaults if defaults is not None else run.iloc[0:0]
    unmeasured = int(run["iou"].isna().sum() + defaults["iou"].isna().sum())
    both = run.assign(cost=cost(run)).merge(
        defaults.assign(cost=cost(defaults)), on="key", suffixes=("_run", "_defaults")
    )
    both = both[both["iou_run"].notna() & both["iou_defaults"].notna()]
    out: dict[str, Any] = {"images": len(run), "compared": len(both), "unmeasured": unmeasured}
    for side in ("run", "defaults"):
        out[f"{side}_iou"] = float(both[f"iou_{side}"].mean())
        out[f"{side}_cost"] = float(both[f"cost_{side}"].mean())
        out[f"{side}_wall"] = float(both[f"seconds_{side}"].mean())
    out["iou_ratio"] = ratio(out["run_iou"], out["defaults_iou"])
    out["iou_difference"] = out["run_iou"] - out["defaults_iou"]
    out["cost_ratio"] = ratio(out["run_cost"], out["defaults_cost"])
    out["wall_ratio"] = ratio(out["run_wall"], out["defaults_wall"])
    return out


def seed_noise(tuned: pd.DataFrame | None, seeds: int) -> pd.DataFrame:
    """Per image, lime's defaults' lowest and highest IoU over the tuner's ``seeds``
    sampling seeds (``tuned``: lime_tune/summary.csv) and their difference; empty with one
    seed, or a summary written before the tuner kept both."""
    columns = ["key", "iou_low", "iou_high", "difference"]
    if tuned is None or seeds < 2 or "baseline_iou_max" not in tuned:
        return pd.DataFrame(columns=columns)
    both = tuned[["key", "baseline_iou_min", "baseline_iou_max"]].dropna()
    both.columns = ["key", "iou_low", "iou_high"]
    both["difference"] = both["iou_high"] - both["iou_low"]
    return both[columns]


def noise_summary(noise: pd.DataFrame) -> dict[str, Any]:
    """The mean and largest seed-to-seed IoU difference (NaN without images)."""
    if not len(noise):
        return {"images": 0, "mean_difference": math.nan, "max_difference": math.nan}
    return {
        "images": len(noise),
        "mean_difference": float(noise["difference"].mean()),
        "max_difference": float(noise["difference"].max()),
    }
