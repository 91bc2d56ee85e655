"""The tuner's figure: each image's trials (counted cost vs IoU), Pareto front, lime's
defaults and the choice."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from explainlab import runfolder
from explainlab.plotting import close


def save_pareto_plot(
    trials: pd.DataFrame,
    fronts: pd.DataFrame,
    chosen: Sequence[dict[str, Any]],
    path: Path,
    model_name: str,
) -> None:
    keys = list(dict.fromkeys(trials["key"]))
    cols = min(5, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.3 * cols, 3.0 * rows), squeeze=False, layout="constrained"
    )
    by_key = {c["key"]: c for c in chosen}
    for ax, key in zip(axes.flat, keys, strict=False):
        t = trials[trials["key"] == key]
        f = fronts[fronts["key"] == key]
        ax.scatter(t["cost_seconds"], t["iou"], s=10, color="0.7", label="trials")
        ax.plot(f["cost_seconds"], f["iou"], "-o", ms=3, color="tab:red", label="Pareto front")
        c = by_key[key]
        ax.scatter(
            [c["baseline_cost"]],
            [c["baseline_iou"]],
            marker="*",
            s=90,
            color="black",
            label="lime defaults",
            zorder=3,
        )
        ax.scatter(
            [c["chosen_cost"]],
            [c["chosen_iou"]],
            marker="o",
            s=60,
            facecolors="none",
            edgecolors="tab:green",
            linewidths=2,
            label="chosen",
            zorder=3,
        )
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("cost (counted s)")
        ax.set_ylabel("IoU vs reference")
        ax.set_ylim(-0.02, 1.02)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"LIME parameter search: counted cost vs IoU ({model_name})")
    runfolder.save_figure(fig, path)
    close(fig)
