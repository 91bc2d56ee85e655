"""The tuner's figure: each image's trials (counted cost vs IoU), Pareto front, lime's
defaults and the choice, drawn at the size it prints (a report's text width)."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import MaxNLocator

from explainlab import runfolder
from explainlab.plotting import MIN_FONT_PT, PRINT_WIDTH_IN, close

COLUMNS = 5
FONT_PT = MIN_FONT_PT + 0.5


def _draw_image(ax: plt.Axes, trials: pd.DataFrame, front: pd.DataFrame, c: dict) -> None:
    ax.scatter(trials["cost_seconds"], trials["iou"], s=4, color="0.7", label="trials")
    ax.plot(
        front["cost_seconds"], front["iou"], "-o", ms=2, lw=1, color="tab:red", label="Pareto front"
    )
    ax.scatter(
        [c["baseline_cost"]], [c["baseline_iou"]], marker="*", s=40, color="black",
        label="lime defaults", zorder=3,
    )  # fmt: skip
    ax.scatter(
        [c["chosen_cost"]], [c["chosen_iou"]], marker="o", s=30, facecolors="none",
        edgecolors="tab:green", linewidths=1.5, label="chosen", zorder=3,
    )  # fmt: skip
    ax.set_title(textwrap.shorten(c["key"].replace("_", " "), 22), fontsize=FONT_PT)
    ax.set_ylim(-0.02, 1.02)
    ax.set_yticks([0, 0.5, 1])
    ax.set_xlim(0, 1.08 * max(trials["cost_seconds"].max(), c["baseline_cost"]))
    ax.xaxis.set_major_locator(MaxNLocator(3, prune="upper"))
    ax.tick_params(labelsize=FONT_PT)


def save_pareto_plot(
    trials: pd.DataFrame,
    fronts: pd.DataFrame,
    chosen: Sequence[dict[str, Any]],
    path: Path,
    model_name: str,
) -> None:
    keys = list(dict.fromkeys(trials["key"]))
    cols = min(COLUMNS, len(keys))
    rows = math.ceil(len(keys) / cols)
    width = PRINT_WIDTH_IN * max(cols, 3) / COLUMNS
    fig, axes = plt.subplots(
        rows, cols, figsize=(width, 1.45 * rows + 0.7), squeeze=False, sharey=True,
        layout="constrained",
    )  # fmt: skip
    by_key = {c["key"]: c for c in chosen}
    for ax, key in zip(axes.flat, keys, strict=False):
        _draw_image(ax, trials[trials["key"] == key], fronts[fronts["key"] == key], by_key[key])
    for ax in list(axes.flat)[len(keys) :]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=4, fontsize=FONT_PT)
    fig.supxlabel(f"counted cost of explain_instance, s ({model_name})", fontsize=FONT_PT)
    fig.supylabel("IoU with the reference", fontsize=FONT_PT)
    runfolder.save_figure(fig, path)
    close(fig)
