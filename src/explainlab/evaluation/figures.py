"""The report card as one figure (``card.png``): methods down, measures across, each cell
the mean and its 95% interval, coloured by the method's rank on that measure (green the
best, red the worst, grey where the measure has no direction); a last column gives the
seconds per image."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from explainlab import runfolder
from explainlab.evaluation.card import Card
from explainlab.evaluation.plan import Plan
from explainlab.measures import get_measure
from explainlab.methods import title_of


def save_card_figure(card: Card, plan: Plan, path: Path, *, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods, measures = list(plan.methods), list(plan.measures)
    table = card.card.set_index(["method", "measure"])
    cols = len(measures) + 1
    fig, ax = plt.subplots(figsize=(1.55 * cols + 1.8, 0.62 * len(methods) + 1.6))
    cmap = plt.get_cmap("RdYlGn")
    colours = np.ones((len(methods), cols, 3)) * 0.93
    for j, measure in enumerate(measures):
        for i, method in enumerate(methods):
            rank = table.loc[(method, measure), "rank"]
            if np.isfinite(rank):
                share = 1.0 if len(methods) == 1 else 1 - (rank - 1) / (len(methods) - 1)
                colours[i, j] = cmap(0.15 + 0.7 * share)[:3]
    ax.imshow(colours, aspect="auto")
    seconds = card.costs.set_index("method")["seconds_per_image"]
    for i, method in enumerate(methods):
        for j, measure in enumerate(measures):
            row = table.loc[(method, measure)]
            fmt = get_measure(measure).text_format.replace("+", "")
            text = f"{row['mean']:{fmt}}\n[{row['low']:{fmt}}, {row['high']:{fmt}}]"
            ax.text(
                j,
                i,
                text if np.isfinite(row["mean"]) else "n/a",
                ha="center",
                va="center",
                fontsize=7.5,
            )
        ax.text(cols - 1, i, f"{seconds[method]:.3f}", ha="center", va="center", fontsize=8)
    headers = [f"{get_measure(m).short} {get_measure(m).arrow}".strip() for m in measures]
    ax.set_xticks(range(cols), [*headers, "s / image"], rotation=30, ha="right", fontsize=8.5)
    ax.set_yticks(range(len(methods)), [title_of(m) for m in methods], fontsize=9)
    ax.set_xticks(np.arange(cols + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(len(methods) + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="both", length=0)
    images = int(card.card["n"].max()) if len(card.card) else 0
    ax.set_title(
        f"Report card{': ' + title if title else ''} ({images} images; mean, 95% interval; "
        "green the best rank)",
        fontsize=10,
    )
    fig.tight_layout()
    runfolder.save_figure(fig, path)
    plt.close(fig)
    return path
